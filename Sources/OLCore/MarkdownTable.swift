/// A Markdown table, the one writer of them: with `padded` columns it reads well in a terminal and pastes
/// into a pull request (golden reviews); unpadded it is compact for report files. Every cell goes
/// through `Markdown.escaped`, so no cell splits, ends the table or carries markup.
public struct MarkdownTable: Sendable {
    public var header: [String]
    public var rows: [[String]]
    public var padded: Bool

    public init(header: [String], rows: [[String]] = [], padded: Bool = true) {
        self.header = header
        self.rows = rows
        self.padded = padded
    }

    public func rendered() -> String {
        let body = ([header] + rows).map { $0.map(Markdown.escaped) }
        let widths = header.indices.map { column in
            padded ? body.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 : 0
        }
        func line(_ cells: [String]) -> String {
            "| " + header.indices.map { column in
                let cell = cells.indices.contains(column) ? cells[column] : ""
                return cell + String(repeating: " ", count: max(0, widths[column] - cell.count))
            }.joined(separator: " | ") + " |"
        }
        let rule = padded ? "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
                          : line(header.map { _ in "---" })
        return ([line(body[0]), rule] + body.dropFirst().map(line)).joined(separator: "\n")
    }
}

/// Text from outside (run directories, corpus paths, registry statements, arm names, axis values) made
/// inert in Markdown: the one escaping function of every report's cells, headings, paragraphs and captions.
public enum Markdown {
    /// `&`, `<` and `>` as HTML entities (no tag or entity survives), `|` as `\|` (no cell splits), line
    /// breaks as `<br>` (no row ends and no heading starts), other control characters as escapes.
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "|": out += "\\|"
            case "\r\n", "\n", "\r", "\u{2028}", "\u{2029}", "\u{0B}", "\u{0C}", "\u{85}": out += "<br>"
            default:
                out += character.unicodeScalars.contains { $0.properties.generalCategory == .control }
                    ? String(character).escapingControlCharacters : String(character)
            }
        }
        return out
    }
}
