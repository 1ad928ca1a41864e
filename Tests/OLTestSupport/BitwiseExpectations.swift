import OLCore
import Testing

/// How two buffers that should be bitwise identical differ: the first differing element, how many
/// differ, the lengths and a SHA-256 of each buffer's bytes. Computed in one linear pass, so a failing
/// comparison of two checkpoints reports in milliseconds (Swift Testing's own `#expect(a == b)` on big
/// arrays computes a diff that can run for many minutes); the digests let a reader match the buffers
/// with files on disk (`sha256sum`).
public struct BitwiseDifference: CustomStringConvertible, Sendable {
    public let firstIndex: Int
    public let differingCount: Int
    public let counts: (actual: Int, expected: Int)
    public let digests: (actual: String, expected: String)
    /// The two differing elements at `firstIndex` as text (nil past the end of the shorter buffer).
    public let values: (actual: String?, expected: String?)

    public var description: String {
        var text = "first difference at element \(firstIndex)"
        if let a = values.actual, let e = values.expected { text += " (\(a) vs \(e))" }
        text += "; \(differingCount) of \(min(counts.actual, counts.expected)) common elements differ"
        if counts.actual != counts.expected { text += "; lengths \(counts.actual) vs \(counts.expected)" }
        return text + "; sha256 \(digests.actual.prefix(16))… vs \(digests.expected.prefix(16))…"
    }

    /// nil when `actual` and `expected` hold the same bits (so 0.0 and -0.0 differ, equal NaNs agree).
    public static func between<T: BitwiseCopyable>(_ actual: [T], _ expected: [T]) -> BitwiseDifference? {
        let size = MemoryLayout<T>.stride
        return actual.withUnsafeBytes { a in
            expected.withUnsafeBytes { e in
                let common = min(actual.count, expected.count)
                var first: Int?, differing = 0
                for i in 0..<common where !a[(i * size)..<((i + 1) * size)].elementsEqual(e[(i * size)..<((i + 1) * size)]) {
                    if first == nil { first = i }
                    differing += 1
                }
                if first == nil && actual.count == expected.count { return nil }
                let index = first ?? common
                return BitwiseDifference(
                    firstIndex: index, differingCount: differing, counts: (actual.count, expected.count),
                    digests: (SHA256.hex(a), SHA256.hex(e)),
                    values: (index < actual.count ? "\(actual[index])" : nil, index < expected.count ? "\(expected[index])" : nil))
            }
        }
    }
}

/// Records an issue naming `what` and where the buffers first differ unless they are bitwise identical.
/// Use instead of `#expect(a == b)` for arrays and byte buffers of any size.
public func expectBitwiseEqual<T: BitwiseCopyable>(
    _ actual: [T], _ expected: [T], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    for message in bitwiseMismatches(actual, expected, what) { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) }
}

/// What `expectBitwiseEqual` records, one message per problem (none when identical): its own tests
/// check these messages directly instead of failing on purpose.
public func bitwiseMismatches<T: BitwiseCopyable>(_ actual: [T], _ expected: [T], _ what: String) -> [String] {
    BitwiseDifference.between(actual, expected).map { ["\(what): \($0)"] } ?? []
}

/// `bitwiseMismatches` for named buffers: differing names, then each differing buffer by name.
public func bitwiseMismatches<T: BitwiseCopyable>(_ actual: [String: [T]], _ expected: [String: [T]], _ what: String) -> [String] {
    let (actualNames, expectedNames) = (actual.keys.sorted(), expected.keys.sorted())
    var messages = actualNames == expectedNames ? [] : ["\(what): names differ: \(actualNames) vs \(expectedNames)"]
    for name in expectedNames {
        guard let a = actual[name], let e = expected[name] else { continue }
        messages += bitwiseMismatches(a, e, "\(what), \(name)")
    }
    return messages
}

/// Records an issue naming the first differing line (shortened) and how many differ, unless the
/// two lists of lines are equal.
public func expectSameLines(
    _ actual: [String], _ expected: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual != expected else { return }
    let common = min(actual.count, expected.count)
    let index = (0..<common).first { actual[$0] != expected[$0] } ?? common
    let differing = (0..<common).filter { actual[$0] != expected[$0] }.count
    func shortened(_ lines: [String]) -> String {
        index < lines.count ? String(lines[index].prefix(160)) : "(none)"
    }
    Issue.record("""
        \(what): first difference at line \(index) of \(actual.count) vs \(expected.count) (\(differing) of \(common) common lines differ)
          actual:   \(shortened(actual))
          expected: \(shortened(expected))
        """, sourceLocation: sourceLocation)
}

/// `expectBitwiseEqual` for named buffers (optimiser state, checkpoint tensors): the same names, and
/// each buffer bitwise equal, reported by name.
public func expectBitwiseEqual<T: BitwiseCopyable>(
    _ actual: [String: [T]], _ expected: [String: [T]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    for message in bitwiseMismatches(actual, expected, what) { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) }
}

/// `expectBitwiseEqual` for lists of named tensors (golden tensors, exported state): the same names,
/// shapes and dtypes in order, and each tensor's values bitwise equal, reported by name.
public func expectBitwiseEqual(
    _ actual: [NamedTensor], _ expected: [NamedTensor], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let (actualNames, expectedNames) = (actual.map(\.name), expected.map(\.name))
    if actualNames != expectedNames {
        Issue.record("\(what): tensor names differ: \(actualNames.prefix(20)) vs \(expectedNames.prefix(20))", sourceLocation: sourceLocation)
        return
    }
    for (a, e) in zip(actual, expected) {
        guard a.shape == e.shape, a.values.dtype == e.values.dtype else {
            Issue.record("\(what), \(e.name): \(a.values.dtype) \(a.shape) vs \(e.values.dtype) \(e.shape)", sourceLocation: sourceLocation)
            continue
        }
        let label = "\(what), \(e.name)"
        switch (a.values, e.values) {
        case (.float32(let x), .float32(let y)): expectBitwiseEqual(x, y, label, sourceLocation: sourceLocation)
        case (.float64(let x), .float64(let y)): expectBitwiseEqual(x, y, label, sourceLocation: sourceLocation)
        case (.int64(let x), .int64(let y)): expectBitwiseEqual(x, y, label, sourceLocation: sourceLocation)
        case (.uint8(let x), .uint8(let y)): expectBitwiseEqual(x, y, label, sourceLocation: sourceLocation)
        case (.int8(let x), .int8(let y)): expectBitwiseEqual(x, y, label, sourceLocation: sourceLocation)
        default: Issue.record("\(label): dtypes differ", sourceLocation: sourceLocation)
        }
    }
}
