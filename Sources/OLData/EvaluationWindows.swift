import OLCore

/// Fixed evaluation windows over the validation stream, identical for every model compared (<doc:Data>).
///
/// K windows spread evenly over the whole split: window k starts at s_k = ⌊k·(V − T − 1)/(K − 1)⌋ (s_0 = 0,
/// and for K = 1 only s_0), with inputs `validation[s_k ..< s_k+T]` and targets one byte later, so the first
/// window starts at the split's first byte and the last one's final target is its last byte. Consecutive
/// starts are at least T apart whenever V ≥ K·T + 1, so input ranges never overlap and no byte is scored
/// twice; at V = K·T + 1 the windows tile the split exactly. The first K windows of a larger K are not the
/// windows of a smaller K: a window count is part of the evaluation, recorded with every result.
/// With `bos` every window is laid out by `TokenLayout` from the same start (BOS at position 0, targets
/// `validation[s_k ..< s_k+T]`): the same offsets for every model, with and without BOS.
public struct EvaluationWindows: Sendable {
    public let count: Int
    public let sequenceLength: Int
    /// A BOS token at position 0 of every window (`TokenLayout`).
    public let bos: Bool
    /// The validation stream the windows index.
    public let validation: [UInt8]

    /// `count` windows of `sequenceLength` tokens; throws saying how many bytes are needed if too few.
    public init(validation: [UInt8], count: Int, sequenceLength: Int, bos: Bool = false) throws {
        guard count > 0, sequenceLength > 0 else {
            throw OutlierLabError("evaluation window count \(count) and sequence length \(sequenceLength) must be positive")
        }
        let needed = EvaluationWindows.bytesNeeded(count: count, sequenceLength: sequenceLength)
        guard validation.count >= needed else {
            throw OutlierLabError("validation split has \(validation.count) bytes but \(count) evaluation windows of \(sequenceLength) tokens need at least \(needed) (\(count)·\(sequenceLength)+1): use a larger corpus, a larger validation fraction or fewer windows")
        }
        self.count = count
        self.sequenceLength = sequenceLength
        self.bos = bos
        self.validation = validation
    }

    /// Validation bytes required for `count` windows of `sequenceLength` tokens.
    public static func bytesNeeded(count: Int, sequenceLength: Int) -> Int { count * sequenceLength + 1 }

    /// The most windows of `sequenceLength` tokens that fit in `validationBytes`.
    public static func maximumCount(validationBytes: Int, sequenceLength: Int) -> Int {
        max(0, (validationBytes - 1) / sequenceLength)
    }

    /// The offset of window `index` in the validation stream (integer arithmetic, exact).
    public func start(of index: Int) -> Int {
        count == 1 ? 0 : index * (validation.count - sequenceLength - 1) / (count - 1)
    }

    /// Tokens scored over all windows, K·T.
    public var tokenCount: Int { count * sequenceLength }

    /// Writes windows `first ..< first + rows` as a `(rows, T)` batch of Int32 token ids.
    public func fill(first: Int, rows: Int, inputs: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>) {
        precondition(first >= 0 && rows >= 0 && first + rows <= count, "windows \(first)..<\(first + rows) outside 0..<\(count)")
        let T = sequenceLength
        precondition(inputs.count >= rows * T && targets.count >= rows * T, "window buffers must hold rows·T tokens")
        let layout = TokenLayout(bos: bos)
        validation.withUnsafeBufferPointer { source in
            for row in 0..<rows {
                layout.writeRow(source, start: start(of: first + row), length: T, inputs, targets, at: row * T)
            }
        }
    }
}

/// The fixed batch on which metrics are logged during training (<doc:Data>): B random crops of T+1 bytes from
/// the validation stream, starts drawn with `RandomStream(seed:purpose: "probe")` like `BatchSampler`'s.
/// Random crops rather than the first windows, so the probe samples the whole validation split; the seed is
/// a parameter so studies comparing seeds can hold the probe fixed by passing one probe seed to every run.
/// With `bos` each row is laid out by `TokenLayout` from the same start (BOS at position 0); the probe is
/// never line-aligned, so BOS-on and BOS-off runs are probed at the same offsets.
public struct ProbeBatch: Sendable, Equatable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// Crop offsets in the validation stream, one per row.
    public let starts: [Int]
    /// Token ids, row-major (B, T).
    public let inputs: [Int32]
    /// The next token of every input, row-major (B, T).
    public let targets: [Int32]

    public init(validation: [UInt8], batchSize: Int, sequenceLength: Int, seed: UInt64, bos: Bool = false) throws {
        guard batchSize > 0, sequenceLength > 0 else {
            throw OutlierLabError("probe batch size \(batchSize) and sequence length \(sequenceLength) must be positive")
        }
        guard validation.count > sequenceLength else {
            throw OutlierLabError("validation split has \(validation.count) bytes; a probe batch of sequence length \(sequenceLength) needs at least \(sequenceLength + 1)")
        }
        var random = RandomStream(seed: seed, purpose: "probe")
        let starts = (0..<batchSize).map { _ in random.nextInt(below: validation.count - sequenceLength) }
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.starts = starts
        let rows = starts.map { TokenLayout(bos: bos).row(validation, start: $0, length: sequenceLength) }
        inputs = rows.flatMap(\.inputs)
        targets = rows.flatMap(\.targets)
    }
}
