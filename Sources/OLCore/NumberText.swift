#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// printf-style number formatting for every report, table and log line: the one home of number text.
public enum NumberText {
    /// `%.<digits>g`: compact, scientific when needed; "inf" and "nan" as C prints them.
    public static func general(_ value: Double, digits: Int = 6) -> String { format("%.\(digits)g", value) }

    /// `%.<digits>f`.
    public static func fixed(_ value: Double, digits: Int) -> String { format("%.\(digits)f", value) }

    /// Numbers as reports print them: four significant digits (`%.4g`), "n/a" for nan, "inf"/"-inf".
    public static func report(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "inf" : "-inf") }
        return general(value, digits: 4)
    }

    private static func format(_ spec: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        return String(decoding: buffer.prefix(max(0, min(Int(length), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
