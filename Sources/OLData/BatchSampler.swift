import OLCore

/// Deterministic training batches: B crops of the train stream laid out by `layout` (`TokenLayout`: T+1
/// bytes, or a BOS token and T bytes); row-major `(B, T)` inputs and targets (<doc:Data>). Crop starts are
/// drawn with `nextInt(below:)` on `RandomStream(seed:purpose: "data")`, one draw per row, row 0 first, so
/// the data order is independent of the model's `init` stream:
/// - `crop_align: none`: the start is drawn uniformly from `0 ... train.count − T − 1`;
/// - `crop_align: line`: the sampler lists, once, the line starts p in `1 ... train.count − T − 1` with
///   `train[p − 1] == '\n'` in increasing order, and a row starts at `lineStarts[nextInt(below: n)]`:
///   uniform over the line starts, one draw per row like the unaligned sampler.
/// Batches are written into caller buffers (B·T elements); nothing is allocated per batch.
public struct BatchSampler: Sendable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// The train stream the crops come from.
    public let train: [UInt8]
    /// How rows are cut: BOS token, crop alignment.
    public let layout: TokenLayout
    /// The offsets a `line`-aligned crop may start at, increasing (nil for unaligned crops).
    let lineStarts: [Int]?
    /// The generator; advances by exactly B draws of `nextInt(below:)` per batch.
    public private(set) var random: RandomStream
    /// Batches drawn so far.
    public private(set) var batchesDrawn: Int

    /// A sampler over `train`; throws if the stream is shorter than one crop (T+1 bytes), or, for
    /// line-aligned crops, has no newline followed by a full crop.
    public init(train: [UInt8], batchSize: Int, sequenceLength: Int, seed: UInt64, layout: TokenLayout = .bytes) throws {
        guard batchSize > 0, sequenceLength > 0 else {
            throw OutlierLabError("batch size \(batchSize) and sequence length \(sequenceLength) must be positive")
        }
        guard train.count > sequenceLength else {
            throw OutlierLabError("train split has \(train.count) bytes; crops of sequence length \(sequenceLength) need at least \(sequenceLength + 1)")
        }
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.train = train
        self.layout = layout
        switch layout.cropAlign {
        case .none:
            lineStarts = nil
        case .line:
            let last = train.count - sequenceLength - 1
            let starts = last < 1 ? [] : (1...last).filter { train[$0 - 1] == 0x0A }
            guard !starts.isEmpty else {
                throw OutlierLabError("train split (\(train.count) bytes) has no line start for crop_align line: no newline is followed by a crop of \(sequenceLength + 1) bytes; use crop_align none or a corpus with line breaks")
            }
            lineStarts = starts
        }
        random = RandomStream(seed: seed, purpose: "data")
        batchesDrawn = 0
    }

    /// Writes the next batch as Int32 token ids (embedding lookups, cross-entropy targets).
    public mutating func next(inputs: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>) {
        fill(inputs, targets)
    }

    /// Writes the next batch as raw bytes (no BOS token: id 256 is not a byte).
    public mutating func next(inputs: UnsafeMutableBufferPointer<UInt8>, targets: UnsafeMutableBufferPointer<UInt8>) {
        precondition(!layout.bos, "a batch with a BOS token needs Int32 buffers: token 256 is not a byte")
        fill(inputs, targets)
    }

    /// The crop starts of the next batch, without drawing it (for diagnostics and tests).
    public func peekStarts() -> [Int] {
        var copy = random
        return (0..<batchSize).map { _ in Self.drawStart(&copy, count: train.count, length: sequenceLength, lineStarts: lineStarts) }
    }

    /// One crop start: uniform over the offsets, or over the line starts when aligned.
    @inline(__always)
    private static func drawStart(_ random: inout RandomStream, count: Int, length: Int, lineStarts: [Int]?) -> Int {
        guard let lineStarts else { return random.nextInt(below: count - length) }
        return lineStarts[random.nextInt(below: lineStarts.count)]
    }

    @inline(__always)
    private mutating func fill<Token: FixedWidthInteger>(_ inputs: UnsafeMutableBufferPointer<Token>, _ targets: UnsafeMutableBufferPointer<Token>) {
        let (B, T) = (batchSize, sequenceLength)
        precondition(inputs.count == B * T && targets.count == B * T, "batch buffers must hold B·T = \(B * T) tokens")
        train.withUnsafeBufferPointer { source in
            for b in 0..<B {
                let start = Self.drawStart(&random, count: source.count, length: T, lineStarts: lineStarts)
                layout.writeRow(source, start: start, length: T, inputs, targets, at: b * T)
            }
        }
        batchesDrawn += 1
    }

    /// Everything needed to resume the batch sequence exactly.
    public var state: BatchSamplerState { BatchSamplerState(words: random.words, batchesDrawn: batchesDrawn) }

    /// Resumes from `state`: the next batch is the one the saved sampler would have drawn next.
    public mutating func restore(_ state: BatchSamplerState) {
        random = RandomStream(words: state.words, cachedNormal: nil)
        batchesDrawn = state.batchesDrawn
    }
}

/// A sampler's position: its xoshiro256** words and batch counter. In checkpoints it is two I64 tensors,
/// `<prefix>.rng` (shape [4], the words' bit patterns) and `<prefix>.batches_drawn` (shape []).
public struct BatchSamplerState: Sendable, Equatable {
    public var words: [UInt64]
    public var batchesDrawn: Int

    public init(words: [UInt64], batchesDrawn: Int) {
        self.words = words
        self.batchesDrawn = batchesDrawn
    }

    /// The state as checkpoint tensors.
    public func tensors(prefix: String = "data") -> [NamedTensor] {
        [
            NamedTensor(name: "\(prefix).rng", shape: [4], values: .int64(words.map { Int64(bitPattern: $0) })),
            NamedTensor(name: "\(prefix).batches_drawn", shape: [], values: .int64([Int64(batchesDrawn)])),
        ]
    }

    /// Reads the state back from checkpoint tensors; missing or malformed tensors throw naming them.
    public init(tensors: [NamedTensor], prefix: String = "data") throws {
        func values(_ name: String, count: Int) throws -> [Int64] {
            guard let tensor = tensors.first(where: { $0.name == name }) else {
                throw OutlierLabError("checkpoint has no tensor \(name) (the data sampler state)")
            }
            guard let values = tensor.int64s, values.count == count else {
                throw OutlierLabError("checkpoint tensor \(name) must be I64 with \(count) values")
            }
            return values
        }
        let words = try values("\(prefix).rng", count: 4).map { UInt64(bitPattern: $0) }
        guard words != [0, 0, 0, 0] else { throw OutlierLabError("checkpoint tensor \(prefix).rng is all zero, not a generator state") }
        let drawn = try values("\(prefix).batches_drawn", count: 1)[0]
        guard drawn >= 0 else { throw OutlierLabError("checkpoint tensor \(prefix).batches_drawn is negative") }
        self.init(words: words, batchesDrawn: Int(drawn))
    }
}
