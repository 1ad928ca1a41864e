import ArgumentParser
import OLCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

func printError(_ message: String) {
    writeStandardError("error: \(message)\n")
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
