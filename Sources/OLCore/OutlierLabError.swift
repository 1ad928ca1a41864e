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
