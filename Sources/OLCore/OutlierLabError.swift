/// An error a user can act on: one line saying what went wrong and, where possible, what to do.
public struct OutlierLabError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The harness version recorded in goldens, checkpoints and run summaries.
public enum Harness {
    public static let version = "0.1.0"
}

extension String {
    /// The text with control characters (newline, tab, NUL, DEL, ...) written as Swift-style escapes, for
    /// embedding names read from a file into a one-line error message.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            if scalar.properties.generalCategory == .control {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
