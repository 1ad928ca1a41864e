import OLPlatform

/// printf-style number formatting for every report, table and log line: the one home of number text.
public enum NumberText {
    /// A wall-clock duration for people: "42 s", "3 min 05 s", "1 h 12 min"; "?" when not a duration.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(twoDigits(s % 60)) s" }
        return "\(s / 3600) h \(twoDigits((s % 3600) / 60)) min"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `%.<digits>g`: compact, scientific when needed; "inf" and "nan" as C prints them.
    public static func general(_ value: Double, digits: Int = 6) -> String { format("%.\(digits)g", value) }

    /// `%.<digits>f`.
    public static func fixed(_ value: Double, digits: Int) -> String { format("%.\(digits)f", value) }

    /// Numbers as reports print them: four significant digits (`%.4g`), "n/a" for nan, "inf"/"-inf".
    public static func report(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "inf" : "-inf") }
        return general(value, digits: 4)
    }

    /// A perplexity ratio: "×1.0042" (four decimals, so the 8-bit effects near 1 stay visible; %.4g would
    /// print ×1); "n/a" for nan.
    public static func ratio(_ value: Double) -> String {
        guard value.isFinite else { return report(value) }
        return "×" + fixed(value, digits: 4)
    }

    private static func format(_ spec: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        return String(decoding: buffer.prefix(max(0, min(Int(length), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Numbers as reports print them: four significant digits (C's %.4g), "n/a" for nan.
public func formatNumber(_ x: Double) -> String { NumberText.report(x) }
