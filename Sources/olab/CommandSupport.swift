import ArgumentParser
import OLCore

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
