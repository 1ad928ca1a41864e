import Foundation
import OLCore
import OLReports

/// One row of an interval chart: an estimate, its 95 % interval, the individual values behind it (seeds)
/// and, for a summary row, the threshold it is judged against.
struct IntervalRow: Sendable {
    var label: String
    var estimate: Double
    var interval: ClosedRange<Double>?
    var points: [Double] = []
    var threshold: Double? = nil
    /// Fill of the estimate's dot (a verdict colour in the summary, the arm's series colour otherwise).
    var colour: String
    /// Text printed right of the plot ("3.1 [2.4, 4.1] ≥ 2 held").
    var note: String
}

/// A dot-and-whisker (forest) chart: one row per estimate, a whisker for its interval, small open marks
/// for the values behind it and a dashed line for its threshold. With `sharedAxis` every row uses one x
/// axis (the arms of one claim, same metric); without it each row gets its own range and end labels (the
/// summary, where every claim has its own statistic).
struct IntervalChart: Sendable {
    var title: String
    var xLabel: String
    var rows: [IntervalRow]
    var sharedAxis: Bool

    static let labelWidth = 280.0, plotWidth = 420.0, noteWidth = 260.0, rowHeight = 26.0

    /// Verdict colours shared with the HTML table cells (darker, so a dot reads on white).
    static func colour(_ verdict: Verdict) -> String {
        switch verdict {
        case .held: "#2e8b3a"
        case .notReproduced: "#c0392b"
        case .inconclusive: "#d4a017"
        case .untestable: "#7f8c8d"
        case .notRun: "#999999"
        }
    }

    /// Every number a row draws (finite and within `ChartSeries.plottableMagnitude`).
    private static func extent(_ row: IntervalRow) -> [Double] {
        ([row.estimate, row.threshold].compactMap { $0 } + row.points + [row.interval?.lowerBound, row.interval?.upperBound].compactMap { $0 })
            .filter(ChartSeries.isPlottable)
    }

    func render() -> String {
        let top = 40.0, axisSpace = sharedAxis ? 42.0 : 12.0
        let width = Self.labelWidth + Self.plotWidth + Self.noteWidth
        let height = top + Double(rows.count) * Self.rowHeight + axisSpace
        let left = Self.labelWidth, right = Self.labelWidth + Self.plotWidth
        var svg = svgHeader(width: width, height: height)
        svg += "<text class=\"title\" x=\"\(svgNumber(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escapeXML(title))</text>\n"
        let all = rows.flatMap(Self.extent)
        let shared = SVGChart.padded(all.min() ?? 0, all.max() ?? 1, pad: 0.06)
        for (index, row) in rows.enumerated() {
            let y = top + (Double(index) + 0.5) * Self.rowHeight
            let values = Self.extent(row)
            let range = sharedAxis ? shared : SVGChart.padded(values.min() ?? 0, values.max() ?? 1, pad: 0.1)
            func px(_ v: Double) -> Double { left + (v - range.0) / (range.1 - range.0) * Self.plotWidth }
            if index % 2 == 0 {
                svg += "<rect x=\"0\" y=\"\(svgNumber(y - Self.rowHeight / 2))\" width=\"\(svgNumber(width))\" height=\"\(svgNumber(Self.rowHeight))\" fill=\"#f6f6f6\"/>\n"
            }
            svg += "<text x=\"\(svgNumber(left - 8))\" y=\"\(svgNumber(y + 4))\" text-anchor=\"end\">\(escapeXML(SVGChart.truncated(row.label, limit: 44)))</text>\n"
            if !sharedAxis {
                svg += "<line x1=\"\(svgNumber(left))\" y1=\"\(svgNumber(y + 8))\" x2=\"\(svgNumber(right))\" y2=\"\(svgNumber(y + 8))\" stroke=\"#bbb\"/>\n"
                svg += "<text x=\"\(svgNumber(left))\" y=\"\(svgNumber(y + 11))\" font-size=\"8\" fill=\"#777\">\(escapeXML(formatNumber(range.0)))</text>"
                svg += "<text x=\"\(svgNumber(right))\" y=\"\(svgNumber(y + 11))\" font-size=\"8\" fill=\"#777\" text-anchor=\"end\">\(escapeXML(formatNumber(range.1)))</text>\n"
            }
            if let threshold = row.threshold, ChartSeries.isPlottable(threshold) {
                svg += "<line class=\"threshold\" x1=\"\(svgNumber(px(threshold)))\" y1=\"\(svgNumber(y - 10))\" x2=\"\(svgNumber(px(threshold)))\" y2=\"\(svgNumber(y + 10))\" stroke=\"#444\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>\n"
            }
            if let interval = row.interval, ChartSeries.isPlottable(interval.lowerBound), ChartSeries.isPlottable(interval.upperBound) {
                svg += "<line class=\"interval\" x1=\"\(svgNumber(px(interval.lowerBound)))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(px(interval.upperBound)))\" y2=\"\(svgNumber(y))\" stroke=\"\(row.colour)\" stroke-width=\"3\"/>\n"
                for end in [interval.lowerBound, interval.upperBound] {
                    svg += "<line x1=\"\(svgNumber(px(end)))\" y1=\"\(svgNumber(y - 5))\" x2=\"\(svgNumber(px(end)))\" y2=\"\(svgNumber(y + 5))\" stroke=\"\(row.colour)\" stroke-width=\"2\"/>"
                }
            }
            for point in row.points where ChartSeries.isPlottable(point) {
                svg += "<circle cx=\"\(svgNumber(px(point)))\" cy=\"\(svgNumber(y))\" r=\"2.5\" fill=\"none\" stroke=\"#333\"/>"
            }
            if ChartSeries.isPlottable(row.estimate) {
                svg += "<circle class=\"estimate\" cx=\"\(svgNumber(px(row.estimate)))\" cy=\"\(svgNumber(y))\" r=\"5\" fill=\"\(row.colour)\" stroke=\"#222\"><title>\(escapeXML(row.note))</title></circle>\n"
            }
            svg += "<text x=\"\(svgNumber(right + 10))\" y=\"\(svgNumber(y + 4))\">\(escapeXML(SVGChart.truncated(row.note, limit: 40)))</text>\n"
        }
        if sharedAxis {
            let axisY = top + Double(rows.count) * Self.rowHeight + 4
            svg += "<line x1=\"\(svgNumber(left))\" y1=\"\(svgNumber(axisY))\" x2=\"\(svgNumber(right))\" y2=\"\(svgNumber(axisY))\" stroke=\"#333\"/>\n"
            let ticks = SVGChart.linearTicks(shared.0, shared.1)
            for (tick, label) in zip(ticks, SVGChart.tickLabels(ticks)) {
                let x = left + (tick - shared.0) / (shared.1 - shared.0) * Self.plotWidth
                svg += "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(axisY))\" x2=\"\(svgNumber(x))\" y2=\"\(svgNumber(axisY + 4))\" stroke=\"#333\"/>"
                svg += "<text x=\"\(svgNumber(x))\" y=\"\(svgNumber(axisY + 15))\" text-anchor=\"middle\">\(escapeXML(label))</text>\n"
            }
            svg += "<text x=\"\(svgNumber(left + Self.plotWidth / 2))\" y=\"\(svgNumber(axisY + 32))\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
