/// How a row of T tokens is cut from a byte stream: the convention shared by training crops, evaluation
/// windows and the probe batch (<doc:Data>, issue 28), so every model compared sees rows laid out alike.
///
/// A row cut at offset s of a stream b reads bytes s … s+T at most, in both layouts:
///
///     bos off   inputs  b_s   b_s+1 … b_s+T−1        targets b_s+1 … b_s+T      (vocabulary 256)
///     bos on    inputs  256   b_s   … b_s+T−2        targets b_s   … b_s+T−1    (vocabulary 257)
///
/// With `bos` the BOS token (id 256) sits at position 0 and predicts the row's first byte; the row holds
/// T bytes of text instead of T+1. The valid offsets are the same in both layouts (0 … count−T−1), so a
/// seed draws the same offsets with and without BOS.
public struct TokenLayout: Sendable, Equatable {
    /// A BOS token at position 0 of every row; the vocabulary becomes 257.
    public var bos: Bool
    /// Where training crops may start (evaluation windows and the probe batch are never aligned).
    public var cropAlign: CropAlignment

    /// The BOS token's id: one past the bytes.
    public static let bosToken: Int32 = 256
    /// The layout of every run before issue 28: bytes only, crops anywhere.
    public static let bytes = TokenLayout()

    public init(bos: Bool = false, cropAlign: CropAlignment = .none) {
        self.bos = bos
        self.cropAlign = cropAlign
    }

    /// The vocabulary size V: 256 bytes, plus the BOS token when on.
    public var vocabulary: Int { TokenLayout.vocabulary(bos: bos) }

    /// 257 with a BOS token, 256 without.
    public static func vocabulary(bos: Bool) -> Int { bos ? 257 : 256 }

    /// Writes the row cut at `start` of `source` into `inputs`/`targets` at `offset ..< offset + T`.
    @inline(__always)
    public func writeRow<Token: FixedWidthInteger>(_ source: UnsafeBufferPointer<UInt8>, start: Int, length T: Int,
                                            _ inputs: UnsafeMutableBufferPointer<Token>, _ targets: UnsafeMutableBufferPointer<Token>,
                                            at offset: Int) {
        if bos {
            inputs[offset] = Token(TokenLayout.bosToken)
            for t in 1..<T { inputs[offset + t] = Token(source[start + t - 1]) }
            for t in 0..<T { targets[offset + t] = Token(source[start + t]) }
        } else {
            for t in 0..<T {
                inputs[offset + t] = Token(source[start + t])
                targets[offset + t] = Token(source[start + t + 1])
            }
        }
    }

    /// The row cut at `start` as Int32 arrays (probe batch, tests).
    public func row(_ stream: [UInt8], start: Int, length T: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs = [Int32](repeating: 0, count: T), targets = inputs
        stream.withUnsafeBufferPointer { source in
            inputs.withUnsafeMutableBufferPointer { i in targets.withUnsafeMutableBufferPointer { o in writeRow(source, start: start, length: T, i, o, at: 0) } }
        }
        return (inputs, targets)
    }
}

/// Where training crops start (config `crop_align`).
public enum CropAlignment: String, Sendable, CaseIterable {
    /// Any offset of the train stream.
    case none
    /// Right after a newline: offsets p ≥ 1 with `train[p−1] == '\n'`.
    case line
}
