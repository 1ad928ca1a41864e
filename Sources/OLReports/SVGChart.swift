import Foundation
import OLCore

/// One line or set of markers in a chart, optionally with a band (e.g. min–max over seeds) drawn under it.
public struct ChartSeries: Sendable {
    public enum Style: Sendable { case line, markers }
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var style: Style
    /// A shaded range at each x, in the series' colour; empty for none.
    public var band: [(x: Double, low: Double, high: Double)]

    public init(name: String, points: [(x: Double, y: Double)], style: Style = .line, band: [(x: Double, low: Double, high: Double)] = []) {
        self.name = name
        self.points = points
        self.style = style
        self.band = band
    }
}

extension ChartSeries {
    /// The largest magnitude a chart draws: beyond it (1e308 in a log once crashed the tick code) a value
    /// is no measurement worth a pixel, and the span arithmetic of the axes could overflow.
    public static let plottableMagnitude = 1e100
    /// Points per series a chart keeps: a million-line log once made a 15 MB page.
    public static let maximumPoints = 1_000

    package static func isPlottable(_ value: Double) -> Bool { value.isFinite && abs(value) <= plottableMagnitude }

    /// The series as a chart draws it: points and band entries with a value beyond `plottableMagnitude`
    /// (or not finite) left out, then at most `maximumPoints` kept, the lowest and highest of each of
    /// `maximumPoints / 2` equal runs of points, so spikes survive the thinning.
    func plottable() -> ChartSeries {
        var copy = self
        copy.points = Self.thinned(points.filter { Self.isPlottable($0.x) && Self.isPlottable($0.y) }) { $0.y }
        let band = band.filter { Self.isPlottable($0.x) && Self.isPlottable($0.low) && Self.isPlottable($0.high) }
        copy.band = band.count <= Self.maximumPoints ? band : Self.buckets(band.count).map { range in
            (x: band[range.lowerBound].x, low: band[range].map(\.low).min()!, high: band[range].map(\.high).max()!)
        }
        return copy
    }

    static func thinned<T>(_ items: [T], value: (T) -> Double) -> [T] {
        guard items.count > maximumPoints else { return items }
        return buckets(items.count).flatMap { range -> [T] in
            let slice = items[range]
            let low = slice.indices.min { value(items[$0]) < value(items[$1]) }!
            let high = slice.indices.max { value(items[$0]) < value(items[$1]) }!
            return low == high ? [items[low]] : [items[min(low, high)], items[max(low, high)]]
        }
    }

    /// `maximumPoints / 2` contiguous, non-empty index ranges covering 0..<count, in order.
    static func buckets(_ count: Int) -> [Range<Int>] {
        let n = maximumPoints / 2
        return (0..<n).map { count * $0 / n ..< count * ($0 + 1) / n }.filter { !$0.isEmpty }
    }

    /// The series with every x (points and band) multiplied by `factor` (tokens drawn in millions).
    func scaledX(by factor: Double) -> ChartSeries {
        ChartSeries(name: name, points: points.map { (x: $0.x * factor, y: $0.y) }, style: style,
                    band: band.map { (x: $0.x * factor, low: $0.low, high: $0.high) })
    }
}

/// How the y axis maps values.
public enum AxisScale: Sendable {
    case linear, log
    /// Log when every value is positive and they span two decades or more, linear otherwise.
    case automatic
}

/// How series number i looks: a colour, a dash pattern and a marker shape, so that series stay apart when
/// printed in grey. Series with the same index look the same in every chart and panel.
package struct SeriesLook {
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static let dashes = ["", "7 3", "2 2", "9 3 2 3", "4 4"]
    package enum Shape: CaseIterable { case circle, square, triangle, diamond, cross }

    package let colour: String, dash: String, shape: Shape

    package init(index: Int) {
        colour = Self.colours[index % Self.colours.count]
        dash = Self.dashes[index % Self.dashes.count]
        shape = Shape.allCases[(index / Self.dashes.count + index) % Shape.allCases.count]
    }

    var dashAttribute: String { dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"" }

    /// The marker centred at (x, y), `size` its half-width.
    func marker(_ x: Double, _ y: Double, size: Double = 3.5, title: String? = nil) -> String {
        let tip = title.map { "<title>\(escapeXML($0))</title>" } ?? ""
        let s = size, (cx, cy) = (svgNumber(x), svgNumber(y))
        switch shape {
        case .circle:
            return "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"\(svgNumber(s))\" fill=\"\(colour)\">\(tip)</circle>"
        case .square:
            return "<rect x=\"\(svgNumber(x - s))\" y=\"\(svgNumber(y - s))\" width=\"\(svgNumber(2 * s))\" height=\"\(svgNumber(2 * s))\" fill=\"\(colour)\">\(tip)</rect>"
        case .triangle:
            return "<polygon points=\"\(svgNumber(x)),\(svgNumber(y - 1.2 * s)) \(svgNumber(x + 1.2 * s)),\(svgNumber(y + s)) \(svgNumber(x - 1.2 * s)),\(svgNumber(y + s))\" fill=\"\(colour)\">\(tip)</polygon>"
        case .diamond:
            return "<polygon points=\"\(svgNumber(x)),\(svgNumber(y - 1.3 * s)) \(svgNumber(x + 1.3 * s)),\(cy) \(svgNumber(x)),\(svgNumber(y + 1.3 * s)) \(svgNumber(x - 1.3 * s)),\(cy)\" fill=\"\(colour)\">\(tip)</polygon>"
        case .cross:
            return "<path d=\"M\(svgNumber(x - s)),\(svgNumber(y - s))L\(svgNumber(x + s)),\(svgNumber(y + s))M\(svgNumber(x - s)),\(svgNumber(y + s))L\(svgNumber(x + s)),\(svgNumber(y - s))\" stroke=\"\(colour)\" stroke-width=\"2\" fill=\"none\">\(tip)</path>"
        }
    }

    /// The legend's sample: a short line in the series' dash with its marker, or the marker alone.
    func legendSample(_ x: Double, _ y: Double, style: ChartSeries.Style) -> String {
        let line = style == .line
            ? "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(x + 24))\" y2=\"\(svgNumber(y))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dashAttribute)/>"
            : ""
        return line + marker(x + 12, y)
    }
}

/// A rectangle in SVG user units: where a chart draws its data.
struct PlotFrame {
    var left, top, right, bottom: Double
    var width: Double { right - left }
    var height: Double { bottom - top }
}

/// A hand-rolled SVG line/scatter chart: frame, ticks with labels, axis labels, title and a legend, a
/// linear, log or automatic y axis, bands under lines. No dependencies; `render` gives a standalone SVG
/// document, and `SVGPanelGrid` lays several charts out as panels sharing one legend.
public struct SVGChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var yScale: AxisScale
    public var series: [ChartSeries]

    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false, series: [ChartSeries]) {
        self.init(title: title, xLabel: xLabel, yLabel: yLabel, yScale: logY ? .log : .linear, series: series)
    }

    public init(title: String, xLabel: String, yLabel: String, yScale: AxisScale, series: [ChartSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.yScale = yScale
        self.series = series.map { $0.plottable() }
    }

    static let width = 720.0, height = 400.0
    static let plot = PlotFrame(left: 70, top: 36, right: 500, bottom: 340)

    /// Whether the y axis is logarithmic once `automatic` is resolved against the data.
    public var logY: Bool {
        switch yScale {
        case .linear: return false
        case .log: return true
        case .automatic:
            let ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.low, $0.high] } }.filter(\.isFinite)
            guard let low = ys.min(), let high = ys.max(), low > 0 else { return false }
            return high / low >= 100
        }
    }

    public func render() -> String {
        var svg = svgHeader(width: Self.width, height: Self.height)
        svg += "<text class=\"title\" x=\"\(svgNumber(Self.width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escapeXML(title))</text>\n"
        svg += plotBody(in: Self.plot)
        svg += "<g class=\"legend\">\n"
        for (index, line) in series.enumerated() {
            let y = Self.plot.top + 8 + Double(index) * 16
            svg += SeriesLook(index: index).legendSample(Self.plot.right + 14, y, style: line.style)
            svg += "<text x=\"\(svgNumber(Self.plot.right + 44))\" y=\"\(svgNumber(y + 4))\">\(escapeXML(Self.truncated(line.name)))</text>\n"
        }
        return svg + "</g>\n</svg>\n"
    }

    /// Frame, ticks, axis labels, bands and series inside `frame` (no title, no legend).
    func plotBody(in frame: PlotFrame, fontSize: Int = 11) -> String {
        let log = logY
        let visible = { (y: Double) in y.isFinite && (!log || y > 0) }
        let finite = series.flatMap { $0.points.filter { $0.x.isFinite && visible($0.y) } }
        let bandYs = series.flatMap { $0.band.flatMap { [$0.low, $0.high] } }.filter(visible)
        let xs = finite.map(\.x), ys = (finite.map(\.y) + bandYs).map { log ? log10($0) : $0 }
        // Lines span the frame; markers alone get a margin so none sits on the frame.
        let xRange = Self.padded(xs.min() ?? 0, xs.max() ?? 1, pad: series.allSatisfy { $0.style == .markers } ? 0.05 : 0)
        let yRange = Self.padded(ys.min() ?? 0, ys.max() ?? 1, pad: 0.05)
        let map = AxisMap(frame: frame, x: xRange, y: yRange, logY: log)
        var svg = "<g class=\"axes\" stroke=\"black\" fill=\"none\"><rect x=\"\(svgNumber(frame.left))\" y=\"\(svgNumber(frame.top))\" width=\"\(svgNumber(frame.width))\" height=\"\(svgNumber(frame.height))\"/></g>\n"
        svg += ticks(map)
        svg += "<text class=\"x-label\" x=\"\(svgNumber(frame.left + frame.width / 2))\" y=\"\(svgNumber(frame.bottom + 34))\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        let middle = svgNumber(frame.top + frame.height / 2), labelX = svgNumber(frame.left - 54)
        svg += "<text class=\"y-label\" x=\"\(labelX)\" y=\"\(middle)\" text-anchor=\"middle\" transform=\"rotate(-90 \(labelX) \(middle))\">\(escapeXML(yLabel + (log ? " (log scale)" : "")))</text>\n"
        svg += "<g class=\"series\">\n" + series.enumerated().map { drawn($1, index: $0, map: map, visible: visible) }.joined() + "</g>\n"
        if finite.isEmpty {
            svg += "<text x=\"\(svgNumber(frame.left + frame.width / 2))\" y=\"\(middle)\" text-anchor=\"middle\">no finite data</text>\n"
        }
        return svg
    }

    private func ticks(_ map: AxisMap) -> String {
        let frame = map.frame
        var svg = "<g class=\"x-ticks\">\n"
        let xTicks = Self.linearTicks(map.x.0, map.x.1)
        for (tick, label) in zip(xTicks, Self.tickLabels(xTicks)) {
            let x = svgNumber(map.px(tick))
            svg += "<line x1=\"\(x)\" y1=\"\(svgNumber(frame.bottom))\" x2=\"\(x)\" y2=\"\(svgNumber(frame.bottom + 5))\" stroke=\"black\"/><text x=\"\(x)\" y=\"\(svgNumber(frame.bottom + 17))\" text-anchor=\"middle\">\(escapeXML(label))</text>\n"
        }
        svg += "</g>\n<g class=\"y-ticks\">\n"
        let yTicks = map.logY ? Self.logTicks(pow(10, map.y.0), pow(10, map.y.1)) : Self.linearTicks(map.y.0, map.y.1)
        for (tick, label) in zip(yTicks, Self.tickLabels(yTicks)) {
            let y = svgNumber(map.py(tick))
            svg += "<line x1=\"\(svgNumber(frame.left - 5))\" y1=\"\(y)\" x2=\"\(svgNumber(frame.left))\" y2=\"\(y)\" stroke=\"black\"/><line x1=\"\(svgNumber(frame.left))\" y1=\"\(y)\" x2=\"\(svgNumber(frame.right))\" y2=\"\(y)\" stroke=\"#dddddd\"/><text x=\"\(svgNumber(frame.left - 8))\" y=\"\(svgNumber(map.py(tick) + 4))\" text-anchor=\"end\">\(escapeXML(label))</text>\n"
        }
        return svg + "</g>\n"
    }

    /// A series' band, line and markers. Lines carry up to eight markers, offset per series so that
    /// overlapping series keep visible marks.
    private func drawn(_ line: ChartSeries, index: Int, map: AxisMap, visible: (Double) -> Bool) -> String {
        let look = SeriesLook(index: index)
        var svg = ""
        let band = line.band.filter { $0.x.isFinite && visible($0.low) && visible($0.high) }
        if band.count > 1 {
            let outline = band.map { (x: $0.x, y: $0.high) } + band.reversed().map { (x: $0.x, y: $0.low) }
            svg += "<polygon class=\"band\" fill=\"\(look.colour)\" fill-opacity=\"0.18\" stroke=\"none\" points=\"\(outline.map { "\(svgNumber(map.px($0.x))),\(svgNumber(map.py($0.y)))" }.joined(separator: " "))\"/>\n"
        }
        let points = line.points.filter { $0.x.isFinite && visible($0.y) }
        var marked = points.indices.map { $0 }
        if line.style == .line && points.count > 1 {
            let path = points.map { "\(svgNumber(map.px($0.x))),\(svgNumber(map.py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(look.colour)\" stroke-width=\"1.5\"\(look.dashAttribute) points=\"\(path)\"><title>\(escapeXML(line.name))</title></polyline>\n"
            let stride = max(1, (points.count + 7) / 8)
            marked = marked.filter { $0 % stride == index % stride }
        }
        for point in marked.map({ points[$0] }) {
            svg += look.marker(map.px(point.x), map.py(point.y), title: line.name) + "\n"
        }
        return svg
    }

    package static func truncated(_ text: String, limit: Int = 32) -> String { text.count <= limit ? text : String(text.prefix(limit - 1)) + "…" }

    /// A range with `pad` of its span added on each side; a degenerate range is widened.
    package static func padded(_ low: Double, _ high: Double, pad: Double) -> (Double, Double) {
        if high - low <= 1e-12 * max(1, abs(high)) { return (low - max(abs(low) * 0.05, 0.5), high + max(abs(high) * 0.05, 0.5)) }
        let span = high - low
        return (low - pad * span, high + pad * span)
    }

    /// About five ticks at 1, 2 or 5 × 10^k inside [low, high].
    package static func linearTicks(_ low: Double, _ high: Double) -> [Double] {
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

    /// Labels for one axis's ticks: the report's number format, with more significant digits wherever
    /// that would print two different ticks alike (entropy ticks 2.5485, 2.549, 2.5495 all read "2.549").
    package static func tickLabels(_ ticks: [Double]) -> [String] {
        for digits in 4...15 {
            let labels = digits == 4 ? ticks.map(tickLabel) : ticks.map { NumberText.general($0, digits: digits) }
            if Set(labels).count == Set(ticks).count { return labels }
        }
        return ticks.map { "\($0)" }
    }
}

/// Data coordinates to SVG coordinates inside a frame; y ranges are in log10 units on a log axis.
struct AxisMap {
    let frame: PlotFrame
    let x: (Double, Double), y: (Double, Double)
    let logY: Bool

    func px(_ value: Double) -> Double { frame.left + (value - x.0) / (x.1 - x.0) * frame.width }
    func py(_ value: Double) -> Double { frame.bottom - ((logY ? log10(value) : value) - y.0) / (y.1 - y.0) * frame.height }
}

/// Small multiples: charts laid out in a grid of panels under one title and one legend. Series are
/// matched across panels by index (the same run is the same colour, dash and marker in every panel),
/// and the legend lists the first panel's series names.
public struct SVGPanelGrid: Sendable {
    public var title: String
    public var panels: [SVGChart]
    public var columns: Int

    public init(title: String, panels: [SVGChart], columns: Int = 2) {
        self.title = title
        self.panels = panels
        self.columns = max(1, min(columns, panels.count))
    }

    static let panelWidth = 380.0, panelHeight = 260.0
    static let legendRowHeight = 18.0, legendColumnWidth = 250.0

    public func render() -> String {
        let names = panels.first?.series.map { ($0.name, $0.style) } ?? []
        let perRow = max(1, Int(Double(columns) * Self.panelWidth / Self.legendColumnWidth))
        let legendHeight = Double((names.count + perRow - 1) / perRow) * Self.legendRowHeight
        let top = 34 + legendHeight
        let rows = (panels.count + columns - 1) / columns
        let width = Double(columns) * Self.panelWidth, height = top + Double(rows) * Self.panelHeight
        var svg = svgHeader(width: width, height: height)
        svg += "<text class=\"title\" x=\"\(svgNumber(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escapeXML(title))</text>\n<g class=\"legend\">\n"
        for (index, entry) in names.enumerated() {
            let x = 20 + Double(index % perRow) * Self.legendColumnWidth, y = 34 + Double(index / perRow) * Self.legendRowHeight + 6
            svg += SeriesLook(index: index).legendSample(x, y, style: entry.1)
            svg += "<text x=\"\(svgNumber(x + 30))\" y=\"\(svgNumber(y + 4))\">\(escapeXML(SVGChart.truncated(entry.0, limit: 38)))</text>\n"
        }
        svg += "</g>\n"
        for (index, panel) in panels.enumerated() {
            let x = Double(index % columns) * Self.panelWidth, y = top + Double(index / columns) * Self.panelHeight
            let frame = PlotFrame(left: x + 72, top: y + 26, right: x + Self.panelWidth - 14, bottom: y + Self.panelHeight - 44)
            svg += "<g class=\"panel\"><text class=\"panel-title\" x=\"\(svgNumber(frame.left + frame.width / 2))\" y=\"\(svgNumber(y + 18))\" text-anchor=\"middle\" font-size=\"12\">\(escapeXML(panel.title))</text>\n"
            svg += panel.plotBody(in: frame) + "</g>\n"
        }
        return svg + "</svg>\n"
    }
}

/// The opening of a standalone SVG document with a white background.
package func svgHeader(width: Double, height: Double) -> String {
    let w = Int(width), h = Int(height)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        + "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"white\"/>\n"
}

/// A coordinate with one decimal.
package func svgNumber(_ x: Double) -> String { NumberText.fixed(x, digits: 1) }

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
