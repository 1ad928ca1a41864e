#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// printf-style number formatting for reports and tables (the package does not use Foundation).
enum NumberText {
    /// `%.<digits>g`: compact, scientific when needed; "inf" and "nan" as C prints them.
    static func general(_ value: Double, digits: Int = 6) -> String { format("%.\(digits)g", value) }

    /// `%.<digits>f`.
    static func fixed(_ value: Double, digits: Int) -> String { format("%.\(digits)f", value) }

    private static func format(_ spec: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        return String(decoding: buffer.prefix(max(0, min(Int(length), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
