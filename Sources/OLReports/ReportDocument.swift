import OLCore

/// A block of a report, rendered both as Markdown and as HTML so the two never disagree (audit reports
/// and `olab report` pages).
package enum ReportBlock {
    case heading(Int, String)
    case paragraph(String)
    case table([String], [[String]])
    /// An SVG figure: file name under `figures/`, caption.
    case figure(String, String)
}

/// Markdown and standalone HTML (figures inline, no network, no script) of report blocks. Every text
/// goes through one escaper per format: `Markdown.escaped` here, `escapeXML` (in `inline`) for the page.
package enum ReportRenderer {
    package static func markdown(_ blocks: [ReportBlock]) -> String {
        var out = ""
        for block in blocks {
            switch block {
            case .heading(let level, let text): out += String(repeating: "#", count: level) + " " + Markdown.escaped(text) + "\n\n"
            case .paragraph(let text): out += Markdown.escaped(text) + "\n\n"
            case .table(let headers, let rows): out += MarkdownTable(header: headers, rows: rows, padded: false).rendered() + "\n\n"
            case .figure(let name, let caption):
                let caption = Markdown.escaped(caption).replacingOccurrences(of: "]", with: "\\]").replacingOccurrences(of: "[", with: "\\[")
                out += "![\(caption)](figures/\(name))\n\n*\(caption)*\n\n"
            }
        }
        return out
    }

    /// A table cell whose text is one of `verdicts` is coloured by it (the audit passes its verdict words).
    package static func html(_ blocks: [ReportBlock], figures: [String: String], title: String = "OutlierLab paper-claims audit",
                             verdicts: Set<String> = []) -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escapeXML(title))</title>\n<style>td.verdict{font-weight:bold}td.held{background:#d8f0d8}td.not-reproduced{background:#f6d5d5}td.inconclusive{background:#f7ecc8}td.not-run{background:#e8e8e8}td.untestable-at-this-scale{background:#dde3ea}body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3}figure{margin:1em 0}svg{width:100%;height:auto}code{background:#f3f3f3}</style></head><body>\n"
        for block in blocks {
            switch block {
            case .heading(let level, let text): out += "<h\(level)>\(inline(text))</h\(level)>\n"
            case .paragraph(let text): out += "<p>\(inline(text))</p>\n"
            case .table(let headers, let rows):
                out += "<table><tr>" + headers.map { "<th>\(inline($0))</th>" }.joined() + "</tr>\n"
                out += rows.map { "<tr>" + $0.map { cell($0, verdicts: verdicts) }.joined() + "</tr>\n" }.joined() + "</table>\n"
            case .figure(let name, let caption):
                let svg = figures[name] ?? ""
                out += "<figure>\(svg)<figcaption>\(inline(caption))</figcaption></figure>\n"
            }
        }
        return out + "</body></html>\n"
    }

    /// A table cell; a verdict is coloured (green held, red not reproduced, amber inconclusive, grey not
    /// run) and keeps its word, so it reads the same printed in grey.
    static func cell(_ text: String, verdicts: Set<String>) -> String {
        guard verdicts.contains(text) else { return "<td>\(inline(text))</td>" }
        return "<td class=\"verdict \(text.replacingOccurrences(of: " ", with: "-"))\">\(inline(text))</td>"
    }

    /// Escaped text with Markdown's **bold**, *italic* and `code` spans turned into HTML.
    static func inline(_ text: String) -> String {
        var out = escapeXML(text)
        for (marker, tag) in [("**", "strong"), ("*", "em"), ("`", "code")] {
            var parts = out.components(separatedBy: marker)
            guard parts.count >= 3 else { continue }
            var rebuilt = parts.removeFirst()
            var open = true
            for part in parts {
                rebuilt += (open ? "<\(tag)>" : "</\(tag)>") + part
                open.toggle()
            }
            if !open { rebuilt += "</\(tag)>" }
            out = rebuilt
        }
        return out
    }

}
