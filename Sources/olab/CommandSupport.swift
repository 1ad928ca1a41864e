import ArgumentParser
import OLCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

func printError(_ message: String) {
    writeStandardError("error: \(boundedLine(message))\n")
}

/// A message made safe for one line of a terminal or log: control characters escaped, at most
/// `limit` bytes (a 50 MB value from a file once made a 52 MB error line), the cut said in so many words.
func boundedLine(_ text: String, limit: Int = 2000) -> String {
    let scalars = text.unicodeScalars
    var kept = String(String.UnicodeScalarView(scalars.prefix(limit))).escapingControlCharacters
    var cut = scalars.count > limit
    if kept.utf8.count > limit {
        kept = String(decoding: kept.utf8.prefix(limit), as: UTF8.self)
        while kept.last == "\u{FFFD}" { kept.removeLast() }
        cut = true
    }
    return cut ? kept + "… (cut: \(text.utf8.count) bytes in all)" : kept
}

/// Writes text to standard error unbuffered (progress lines and errors).
func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}

/// Whether standard error is a terminal (live progress line) or not (plain periodic lines).
var standardErrorIsTerminal: Bool { isatty(2) == 1 }

/// "1h02m", "3m20s", "12s".
func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let total = Int(seconds.rounded())
    if total >= 3600 { return "\(total / 3600)h" + String(format2(total % 3600 / 60)) + "m" }
    if total >= 60 { return "\(total / 60)m" + String(format2(total % 60)) + "s" }
    return "\(total)s"
}

private func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

/// Writes a result line to standard output unbuffered and checks that it arrived: a full disk or
/// /dev/full is an error (one line, non-zero exit), not an exit 0 with an empty file.
func printResult(_ text: String) throws {
    let bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            throw OutlierLabError("cannot write the result to standard output: \(errnoText())")
        }
        offset += written
    }
}
