/// A Markdown table, the one writer of them: with `padded` columns it reads well in a terminal and pastes
/// into a pull request (golden reviews); unpadded it is compact for report files. A `|` inside a cell is
/// escaped so it never splits the cell.
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
        let escape = { (cell: String) -> String in cell.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") }
        let body = ([header] + rows).map { $0.map(escape) }
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
