import OLCore

/// Deterministic training batches: B random crops of T+1 bytes from the train stream; inputs are the first
/// T bytes of each crop and targets the next T (SPEC §1). Crop starts are drawn uniformly from
/// `0 ... train.count − T − 1` with `nextInt(below:)` on `RandomStream(seed:purpose: "data")`, row 0 first,
/// so the data order is independent of the model's `init` stream. Batches are written into caller buffers
/// (B·T elements, row-major `(B, T)`); nothing is allocated per batch.
public struct BatchSampler: Sendable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// The train stream the crops come from.
    public let train: [UInt8]
    /// The generator; advances by exactly B draws of `nextInt(below:)` per batch.
    public private(set) var random: RandomStream
    /// Batches drawn so far.
    public private(set) var batchesDrawn: Int

    /// A sampler over `train`; throws if the stream is shorter than one crop (T+1 bytes).
    public init(train: [UInt8], batchSize: Int, sequenceLength: Int, seed: UInt64) throws {
        guard batchSize > 0, sequenceLength > 0 else {
            throw OutlierLabError("batch size \(batchSize) and sequence length \(sequenceLength) must be positive")
        }
        guard train.count > sequenceLength else {
            throw OutlierLabError("train split has \(train.count) bytes; crops of sequence length \(sequenceLength) need at least \(sequenceLength + 1)")
        }
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.train = train
        random = RandomStream(seed: seed, purpose: "data")
        batchesDrawn = 0
    }

    /// Writes the next batch as Int32 token ids (embedding lookups, cross-entropy targets).
    public mutating func next(inputs: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>) {
        fill(inputs, targets)
    }

    /// Writes the next batch as raw bytes.
    public mutating func next(inputs: UnsafeMutableBufferPointer<UInt8>, targets: UnsafeMutableBufferPointer<UInt8>) {
        fill(inputs, targets)
    }

    /// The crop starts of the next batch, without drawing it (for diagnostics and tests).
    public func peekStarts() -> [Int] {
        var copy = random
        return (0..<batchSize).map { _ in copy.nextInt(below: train.count - sequenceLength) }
    }

    @inline(__always)
    private mutating func fill<Token: FixedWidthInteger>(_ inputs: UnsafeMutableBufferPointer<Token>, _ targets: UnsafeMutableBufferPointer<Token>) {
        let (B, T) = (batchSize, sequenceLength)
        precondition(inputs.count == B * T && targets.count == B * T, "batch buffers must hold B·T = \(B * T) tokens")
        train.withUnsafeBufferPointer { source in
            for b in 0..<B {
                let start = random.nextInt(below: source.count - T)
                for t in 0..<T {
                    inputs[b * T + t] = Token(source[start + t])
                    targets[b * T + t] = Token(source[start + t + 1])
                }
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
