import OLCore

/// How a tensor is compared with its golden. The golden is the reference: budgets scale with |golden|.
public enum CompareMode: Sendable, Equatable, CustomStringConvertible {
    /// Bitwise equality of every element (so -0.0 ≠ 0.0 and NaN payloads must match).
    case exact
    /// numpy `allclose` semantics: |actual − golden| ≤ atol + rtol·|golden| element-wise. NaN matches
    /// only NaN (any payload); an infinity matches only the same infinity.
    case allclose(rtol: Double, atol: Double)
    /// For eigenvector-like tensors whose sign is arbitrary: each vector (the entries along `axis`, one
    /// vector per index of the other axes) is flipped so its largest-|·| entry is positive (ties go to the
    /// lower index), in both actual and golden, and the results are compared with `allclose`.
    case signCanonical(rtol: Double, atol: Double, axis: Int)

    /// The name written in the header's `compare.mode`.
    public var name: String {
        switch self {
        case .exact: "exact"
        case .allclose: "allclose"
        case .signCanonical: "sign_canonical"
        }
    }

    public var description: String {
        switch self {
        case .exact: "exact"
        case .allclose(let rtol, let atol): "allclose rtol=\(rtol) atol=\(atol)"
        case .signCanonical(let rtol, let atol, let axis): "sign_canonical rtol=\(rtol) atol=\(atol) axis=\(axis)"
        }
    }

    var tolerances: (rtol: Double, atol: Double)? {
        switch self {
        case .exact: nil
        case .allclose(let rtol, let atol), .signCanonical(let rtol, let atol, _): (rtol, atol)
        }
    }
}

/// One tensor of a golden case with the way it must be compared.
public struct GoldenTensor: Sendable, Equatable {
    public var tensor: NamedTensor
    public var compare: CompareMode

    public init(_ tensor: NamedTensor, compare: CompareMode) {
        self.tensor = tensor
        self.compare = compare
    }

    public var name: String { tensor.name }
}

/// A self-contained golden case: what produced it (kind, config, seed) and every input, parameter and
/// output tensor an independent implementation needs to re-check it.
public struct GoldenCase: Sendable, Equatable {
    /// The folder under `Goldens/`, usually the module under test (`kernels`, `optimisers`, …).
    public var suite: String
    /// The file name stem, unique within the suite.
    public var name: String
    /// What kind of computation this is (`kernel`, `optimiser_step`, `training_run`, …).
    public var kind: String
    /// The configuration that produced the tensors; a free JSON object.
    public var config: JSONValue
    public var seed: UInt64
    public var tensors: [GoldenTensor]

    public init(suite: String, name: String, kind: String, config: JSONValue = .object([]), seed: UInt64, tensors: [GoldenTensor]) {
        self.suite = suite
        self.name = name
        self.kind = kind
        self.config = config
        self.seed = seed
        self.tensors = tensors
    }

    /// `suite/name`: how CHANGELOG entries and review tables name the case.
    public var id: String { "\(suite)/\(name)" }
    /// The path relative to `Goldens/` (and to the candidates and actuals directories).
    public var relativePath: String { "\(suite)/\(name).golden.gz" }

    /// Throws a one-line error when names are unusable as paths, tensors repeat, or a compare mode does
    /// not fit its tensor.
    public func validate() throws {
        for (label, value) in [("suite", suite), ("case", name)] where !GoldenCase.isSafeComponent(value) {
            throw OutlierLabError("golden \(label) name \"\(value)\" must be non-empty letters, digits, '_', '-' or '.' and not start with '.'")
        }
        guard !kind.isEmpty else { throw OutlierLabError("golden \(id): kind must not be empty") }
        guard case .object = config else { throw OutlierLabError("golden \(id): config must be a JSON object") }
        guard Self.allNumbersFinite(config) else { throw OutlierLabError("golden \(id): config holds a non-finite number, which JSON cannot store") }
        var seen = Set<String>()
        for entry in tensors {
            let tensor = entry.tensor
            guard !tensor.name.isEmpty, !tensor.name.contains(where: { $0.isNewline }) else {
                throw OutlierLabError("golden \(id): tensor names must be non-empty single-line text")
            }
            guard seen.insert(tensor.name).inserted else { throw OutlierLabError("golden \(id): tensor \"\(tensor.name)\" appears twice") }
            guard tensor.shape.allSatisfy({ $0 >= 0 }) else { throw OutlierLabError("golden \(id): tensor \"\(tensor.name)\" has a negative dimension") }
            if let (rtol, atol) = entry.compare.tolerances {
                guard rtol.isFinite, atol.isFinite, rtol >= 0, atol >= 0 else {
                    throw OutlierLabError("golden \(id): tensor \"\(tensor.name)\" tolerances must be finite and non-negative (rtol \(rtol), atol \(atol))")
                }
            }
            if case .signCanonical(_, _, let axis) = entry.compare {
                guard axis >= 0, axis < max(tensor.shape.count, 1) else {
                    throw OutlierLabError("golden \(id): tensor \"\(tensor.name)\" sign_canonical axis \(axis) is outside its \(tensor.shape.count) dimensions")
                }
                switch tensor.values {
                case .float32, .float64: break
                default: throw OutlierLabError("golden \(id): tensor \"\(tensor.name)\" is \(tensor.values.dtype); sign_canonical needs F32 or F64")
                }
            }
        }
    }

    private static func allNumbersFinite(_ value: JSONValue) -> Bool {
        switch value {
        case .double(let number): number.isFinite
        case .array(let values): values.allSatisfy(allNumbersFinite)
        case .object(let members): members.allSatisfy { allNumbersFinite($0.value) }
        default: true
        }
    }

    static func isSafeComponent(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix(".")
            && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) }
    }
}
