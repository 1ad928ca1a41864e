/// One flat float32 allocation with named views (the llm.c layout): parameters, gradients and optimiser
/// moments each live in an arena of the same layout, so zeroing, clipping, checkpoints and golden dumps
/// are flat loops, and the view for a name is at the same offset in every arena.

/// What a tensor is, for routing it to an optimiser rule and deciding weight decay.
public enum ParameterRole: String, Sendable, Codable, CaseIterable {
    /// A 2-D weight matrix of a linear layer (preconditioned by SOAP; decayed).
    case matrix
    /// An embedding table (decayed by default; SOAP preconditions it like a matrix unless switched off).
    case embedding
    /// A 1-D gain or bias vector (norm scales, QK-norm scales): not decayed.
    case vector
    /// A scalar such as the OP block's branch weight β: not decayed.
    case scalar
}

/// Name, shape and role of one tensor in an arena.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let role: ParameterRole
    public init(name: String, shape: [Int], role: ParameterRole) {
        precondition(shape.allSatisfy { $0 > 0 }, "tensor \(name) has a non-positive dimension")
        self.name = name
        self.shape = shape
        self.role = role
    }
    public var count: Int { shape.reduce(1, *) }
}

/// Where each tensor lives inside an arena. Offsets are rounded up to 16 floats (64 bytes) so every view
/// starts on a cache line.
public struct ArenaLayout: Sendable, Equatable {
    public private(set) var specs: [TensorSpec] = []
    public private(set) var offsets: [Int] = []
    public private(set) var totalCount: Int = 0
    private var indexByName: [String: Int] = [:]

    public init() {}
    public init(_ specs: [TensorSpec]) { for spec in specs { append(spec) } }

    public mutating func append(_ spec: TensorSpec) {
        precondition(indexByName[spec.name] == nil, "duplicate tensor name \(spec.name)")
        indexByName[spec.name] = specs.count
        specs.append(spec)
        offsets.append(totalCount)
        totalCount += (spec.count + 15) / 16 * 16
    }

    public func index(of name: String) -> Int? { indexByName[name] }

    /// Total number of elements of all tensors (without alignment padding).
    public var parameterCount: Int { specs.reduce(0) { $0 + $1.count } }
}

/// A zero-initialised, 64-byte-aligned float32 allocation laid out by an `ArenaLayout`.
/// Reference type: the model, the optimiser and the trainer share one parameter arena.
public final class FloatArena: @unchecked Sendable {
    public let layout: ArenaLayout
    public let storage: UnsafeMutableBufferPointer<Float>

    public init(layout: ArenaLayout) {
        self.layout = layout
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, layout.totalCount) * 4, alignment: 64)
        let base = raw.bindMemory(to: Float.self, capacity: max(1, layout.totalCount))
        storage = UnsafeMutableBufferPointer(start: base, count: layout.totalCount)
        storage.initialize(repeating: 0)
    }

    deinit { UnsafeMutableRawPointer(storage.baseAddress!).deallocate() }

    /// The view of tensor number `index`.
    public func view(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[layout.offsets[index] ..< layout.offsets[index] + layout.specs[index].count])
    }

    /// The view named `name`; the name must exist in the layout.
    public func view(_ name: String) -> UnsafeMutableBufferPointer<Float> {
        guard let index = layout.index(of: name) else { preconditionFailure("no tensor named \(name)") }
        return view(index)
    }

    public func zero() { storage.update(repeating: 0) }

    /// The name of the first tensor holding a NaN or an infinity, nil when every value is finite. The
    /// common case, all finite, is one pass in 16 lanes (the training loop asks after every step).
    public func firstNonFiniteTensor() -> String? {
        if allFinite(UnsafeBufferPointer(storage)) { return nil }
        // A non-finite value outside every view (the alignment gaps are never written) would be a bug: "?".
        return layout.specs.indices.first { !allFinite(UnsafeBufferPointer(view($0))) }.map { layout.specs[$0].name } ?? "?"
    }

    /// Copies every value from an arena of the same layout.
    public func copy(from other: FloatArena) {
        precondition(other.layout == layout, "arena layouts differ")
        _ = storage.update(fromContentsOf: other.storage)
    }

    /// An independent copy.
    public func clone() -> FloatArena {
        let copy = FloatArena(layout: layout)
        copy.copy(from: self)
        return copy
    }
}

/// Whether every value is finite, in 16 lanes: x·0 is ±0 for a finite x and NaN for an infinity or a
/// NaN, so the lanes' running sum of x·0 is NaN exactly when some value is not finite.
public func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
    guard let base = values.baseAddress else { return true }
    let raw = UnsafeRawPointer(base), vectorEnd = values.count & ~15
    var lanes = SIMD16<Float>(repeating: 0)
    for i in stride(from: 0, to: vectorEnd, by: 16) {
        lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
    }
    var sum = lanes.sum()
    for i in vectorEnd..<values.count { sum += values[i] * 0 }
    return !sum.isNaN
}
