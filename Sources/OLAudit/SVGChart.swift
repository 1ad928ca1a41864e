import Foundation

/// One line or set of markers in a chart.
public struct ChartSeries: Sendable {
    public enum Style: Sendable { case line, markers }
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var style: Style

    public init(name: String, points: [(x: Double, y: Double)], style: Style = .line) {
        self.name = name
        self.points = points
        self.style = style
    }
}

/// A hand-rolled SVG line/scatter chart: frame, ticks with labels, axis labels, title and a legend, with
/// an optional log-scale y axis. No dependencies; the output is a standalone SVG document.
public struct SVGChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logY = false
    public var series: [ChartSeries]

    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false, series: [ChartSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logY = logY
        self.series = series
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static let width = 720.0, height = 400.0
    static let plot = (left: 70.0, top: 36.0, right: 500.0, bottom: 340.0)

    public func render() -> String {
        let p = Self.plot
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" fill=\"white\"/>\n"
        svg += "<text class=\"title\" x=\"\(f(Self.width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escapeXML(title))</text>\n"
        let xs = finite.map(\.x), ys = finite.map { logY ? log10($0.y) : $0.y }
        let xRange = Self.padded(xs.min() ?? 0, xs.max() ?? 1, pad: 0)
        let yRange = Self.padded(ys.min() ?? 0, ys.max() ?? 1, pad: 0.05)
        func px(_ x: Double) -> Double { p.left + (x - xRange.0) / (xRange.1 - xRange.0) * (p.right - p.left) }
        func py(_ y: Double) -> Double { p.bottom - ((logY ? log10(y) : y) - yRange.0) / (yRange.1 - yRange.0) * (p.bottom - p.top) }
        svg += "<g class=\"axes\" stroke=\"black\" fill=\"none\"><rect x=\"\(f(p.left))\" y=\"\(f(p.top))\" width=\"\(f(p.right - p.left))\" height=\"\(f(p.bottom - p.top))\"/></g>\n"
        svg += "<g class=\"x-ticks\">\n"
        for tick in Self.linearTicks(xRange.0, xRange.1) {
            let x = px(tick)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(p.bottom))\" x2=\"\(f(x))\" y2=\"\(f(p.bottom + 5))\" stroke=\"black\"/><text x=\"\(f(x))\" y=\"\(f(p.bottom + 18))\" text-anchor=\"middle\">\(escapeXML(Self.tickLabel(tick)))</text>\n"
        }
        svg += "</g>\n<g class=\"y-ticks\">\n"
        let yTicks = logY ? Self.logTicks(pow(10, yRange.0), pow(10, yRange.1)) : Self.linearTicks(yRange.0, yRange.1)
        for tick in yTicks {
            let y = logY ? py(tick) : p.bottom - (tick - yRange.0) / (yRange.1 - yRange.0) * (p.bottom - p.top)
            svg += "<line x1=\"\(f(p.left - 5))\" y1=\"\(f(y))\" x2=\"\(f(p.left))\" y2=\"\(f(y))\" stroke=\"black\"/><line x1=\"\(f(p.left))\" y1=\"\(f(y))\" x2=\"\(f(p.right))\" y2=\"\(f(y))\" stroke=\"#dddddd\"/><text x=\"\(f(p.left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escapeXML(Self.tickLabel(tick)))</text>\n"
        }
        svg += "</g>\n"
        svg += "<text class=\"x-label\" x=\"\(f((p.left + p.right) / 2))\" y=\"\(f(p.bottom + 38))\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        svg += "<text class=\"y-label\" x=\"16\" y=\"\(f((p.top + p.bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f((p.top + p.bottom) / 2)))\">\(escapeXML(yLabel + (logY ? " (log scale)" : "")))</text>\n"
        svg += "<g class=\"series\">\n"
        for (index, line) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
            switch line.style {
            case .line where points.count > 1:
                let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(path)\"><title>\(escapeXML(line.name))</title></polyline>\n"
            default:
                for point in points {
                    svg += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"4\" fill=\"\(colour)\"><title>\(escapeXML(line.name))</title></circle>\n"
                }
            }
        }
        svg += "</g>\n<g class=\"legend\">\n"
        for (index, line) in series.enumerated() {
            let y = p.top + 8 + Double(index) * 16
            let colour = Self.palette[index % Self.palette.count]
            let mark = line.style == .line
                ? "<line x1=\"\(f(p.right + 14))\" y1=\"\(f(y))\" x2=\"\(f(p.right + 34))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
                : "<circle cx=\"\(f(p.right + 24))\" cy=\"\(f(y))\" r=\"4\" fill=\"\(colour)\"/>"
            svg += mark + "<text x=\"\(f(p.right + 40))\" y=\"\(f(y + 4))\">\(escapeXML(Self.truncated(line.name)))</text>\n"
        }
        if finite.isEmpty {
            svg += "<text x=\"\(f((p.left + p.right) / 2))\" y=\"\(f((p.top + p.bottom) / 2))\" text-anchor=\"middle\">no finite data</text>\n"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    static func truncated(_ text: String) -> String { text.count <= 32 ? text : String(text.prefix(31)) + "…" }

    /// A range with `pad` of its span added on each side; a degenerate range is widened.
    static func padded(_ low: Double, _ high: Double, pad: Double) -> (Double, Double) {
        if high - low <= 1e-12 * max(1, abs(high)) { return (low - max(abs(low) * 0.05, 0.5), high + max(abs(high) * 0.05, 0.5)) }
        let span = high - low
        return (low - pad * span, high + pad * span)
    }

    /// About five ticks at 1, 2 or 5 × 10^k inside [low, high].
    static func linearTicks(_ low: Double, _ high: Double) -> [Double] {
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var tick = ceil(low / step) * step
        while tick <= high + step * 1e-9 {
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return ticks
    }

    /// Decades (with 2 and 5 between them when the range spans fewer than two); linear ticks when the
    /// range is inside one decade, so a log axis always has labels.
    static func logTicks(_ low: Double, _ high: Double) -> [Double] {
        let decades = log10(high) - log10(low)
        if decades < 1 { return linearTicks(low, high).filter { $0 > 0 } }
        let multipliers: [Double] = decades < 2 ? [1, 2, 5] : [1]
        var ticks: [Double] = []
        for exponent in Int(floor(log10(low)))...Int(ceil(log10(high))) {
            for m in multipliers {
                let tick = m * pow(10, Double(exponent))
                if tick >= low * (1 - 1e-9) && tick <= high * (1 + 1e-9) { ticks.append(tick) }
            }
        }
        return ticks
    }

    static func tickLabel(_ x: Double) -> String { formatNumber(x) }

    private func f(_ x: Double) -> String { String(format: "%.1f", x) }
}

/// Text safe inside XML elements and attribute values.
public func escapeXML(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(character)
        }
    }
    return out
}
