import OLPlatform

/// An error a user can act on: one line saying what went wrong and, where possible, what to do.
public struct OutlierLabError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The harness version recorded in goldens, checkpoints and run summaries.
public enum Harness {
    public static let version = "0.3.0"
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

extension OutlierLabError {
    /// Whether the error says the machine, not the input, failed: a full disk or quota, a file-size
    /// limit, an I/O error. Such a failure may not happen again, so it is never cached as a run's verdict.
    /// Read from the message, so it survives the rewording of errors passed up through several layers.
    public var isTransient: Bool {
        Self.transientReasons.contains { message.contains($0) }
    }

    static let transientReasons: [String] = [ENOSPC, EIO, EFBIG, EDQUOT, ENOMEM].map { String(cString: strerror($0)) }
}

/// Names from a user's file that become file names or labels, checked once where the file is loaded.
public enum Identifier {
    /// The longest identifier accepted; a long name is a mistake, and it would make long file names.
    public static let maximumLength = 64

    /// Refuses `text` as a name that becomes part of a file name (a claim id): 1 to 64 of `a-z A-Z 0-9 . _ -`,
    /// starting with a letter or digit, so it never names a directory, escapes a folder or hides a file.
    public static func checkFileName(_ text: String, _ what: String) throws {
        let allowed = text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
        guard allowed, let first = text.unicodeScalars.first, first.isASCII, first != ".", first != "_", first != "-",
              text.unicodeScalars.count <= maximumLength else {
            throw OutlierLabError("\(what) \(quoted(text)) must be 1 to \(maximumLength) letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    /// Refuses `text` as a label shown in reports and figures (an arm name): 1 to 64 characters, no control
    /// characters. Arm names never become file names, so '/' stays ("OP β₀ 0.5 (default 1/√L)").
    public static func checkLabel(_ text: String, _ what: String) throws {
        guard !text.isEmpty, text.count <= maximumLength,
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw OutlierLabError("\(what) \(quoted(text)) must be 1 to \(maximumLength) characters without control characters")
        }
    }

    /// The name in quotes, control characters escaped and cut after 40 characters (a 5,000-character
    /// name once made a 5 KB error line).
    static func quoted(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "'" + cut.escapingControlCharacters + "'"
    }
}
