import OLCore

/// Element-wise comparison of an actual tensor with its golden, in the style of
/// `numpy.testing.assert_allclose`: counts mismatches, finds the greatest absolute and relative
/// differences (over elements where both are finite) and keeps the first few mismatching indices.
public struct TensorComparison: Sendable, Equatable {
    /// A difference located at a flat (row-major) index.
    public struct Located: Sendable, Equatable {
        public var value: Double
        public var index: Int
    }

    public var name: String
    public var shape: [Int]
    public var dtype: String
    public var mode: CompareMode
    public var count: Int
    public var mismatchCount: Int
    public var mismatchIndices: [Int]
    /// Greatest |actual − golden| over elements where both are finite, nil if there are none.
    public var greatestAbsolute: Located?
    /// The allowed budget atol + rtol·|golden| at `greatestAbsolute.index` (0 for `exact`).
    public var budgetAtGreatestAbsolute: Double?
    /// Greatest |actual − golden| / |golden| over finite pairs (infinite where golden is 0).
    public var greatestRelative: Located?
    /// The element whose |actual − golden| is the largest fraction of its budget, that fraction, and the
    /// difference and budget there (the review table's "worst tensor").
    public var worstBudgetFraction: Located?
    public var differenceAtWorst: Double = 0
    public var budgetAtWorst: Double = 0
    /// Values as compared (after sign canonicalisation for `sign_canonical`), for the pairs shown.
    var actualText: [Int: String]
    var goldenText: [Int: String]

    public var passed: Bool { mismatchCount == 0 }

    static let shownPairs = 5

    /// Compares `actual` with `golden` under `mode`. Shapes and dtypes must already agree.
    public static func compare(actual: NamedTensor, golden: NamedTensor, mode: CompareMode) -> TensorComparison {
        precondition(actual.shape == golden.shape && actual.values.dtype == golden.values.dtype, "compare only tensors of one shape and dtype")
        var result = TensorComparison(
            name: golden.name, shape: golden.shape, dtype: golden.values.dtype, mode: mode, count: golden.values.count,
            mismatchCount: 0, mismatchIndices: [], greatestAbsolute: nil, budgetAtGreatestAbsolute: nil, greatestRelative: nil,
            actualText: [:], goldenText: [:]
        )
        switch (actual.values, golden.values) {
        case (.float32(let a), .float32(let g)):
            result.scan(floats: a.map(Double.init), g.map(Double.init), actualBits: { UInt64(a[$0].bitPattern) },
                        goldenBits: { UInt64(g[$0].bitPattern) }, format: { "\(Float($0))" })
        case (.float64(let a), .float64(let g)):
            result.scan(floats: a, g, actualBits: { a[$0].bitPattern }, goldenBits: { g[$0].bitPattern }, format: { "\($0)" })
        case (.int64(let a), .int64(let g)):
            result.scan(integers: a, g)
        case (.uint8(let a), .uint8(let g)):
            result.scan(integers: a.map(Int64.init), g.map(Int64.init))
        case (.int8(let a), .int8(let g)):
            result.scan(integers: a.map(Int64.init), g.map(Int64.init))
        default:
            preconditionFailure("dtypes agree")
        }
        return result
    }

    /// Float values arrive widened to Double (exact); NaNs are shown with the stored payload bits.
    private mutating func scan(
        floats actualIn: [Double], _ goldenIn: [Double],
        actualBits: (Int) -> UInt64, goldenBits: (Int) -> UInt64, format: (Double) -> String
    ) {
        func show(_ value: Double, _ bits: UInt64) -> String { value.isNaN ? "nan(0x\(String(bits, radix: 16)))" : format(value) }
        var actual = actualIn, golden = goldenIn
        if case .signCanonical(_, _, let axis) = mode {
            Self.canonicaliseSigns(&actual, shape: shape, axis: axis)
            Self.canonicaliseSigns(&golden, shape: shape, axis: axis)
        }
        let (rtol, atol) = mode.tolerances ?? (0, 0)
        for i in 0 ..< count {
            let a = actual[i], g = golden[i]
            let matches: Bool
            switch mode {
            case .exact: matches = actualBits(i) == goldenBits(i)
            default:
                if a.isNaN || g.isNaN { matches = a.isNaN && g.isNaN }
                else if a.isInfinite || g.isInfinite { matches = a == g }
                else { matches = abs(a - g) <= atol + rtol * abs(g) }
            }
            if a.isFinite && g.isFinite {
                note(i, difference: abs(a - g), golden: abs(g), budget: atol + rtol * abs(g))
            }
            if !matches { recordMismatch(i, actual: show(a, actualBits(i)), golden: show(g, goldenBits(i))) }
        }
    }

    private mutating func scan(integers actual: [Int64], _ golden: [Int64]) {
        let (rtol, atol) = mode.tolerances ?? (0, 0)
        for i in 0 ..< count {
            let a = actual[i], g = golden[i]
            // The magnitude of a − g is exact in UInt64 even when a − g overflows Int64.
            let distance = Double(a >= g ? UInt64(bitPattern: a &- g) : UInt64(bitPattern: g &- a))
            let budget = atol + rtol * Double(g.magnitude)
            note(i, difference: distance, golden: Double(g.magnitude), budget: mode == .exact ? 0 : budget)
            let matches = mode == .exact ? a == g : distance <= budget
            if !matches { recordMismatch(i, actual: String(a), golden: String(g)) }
        }
    }

    private mutating func note(_ index: Int, difference: Double, golden: Double, budget: Double) {
        // |Δ| as a fraction of the budget there: ≤ 1 passes; any change under a zero budget is infinite.
        let fraction = difference == 0 ? 0 : (budget > 0 ? difference / budget : .infinity)
        if fraction > (worstBudgetFraction?.value ?? -1) {
            worstBudgetFraction = Located(value: fraction, index: index)
            differenceAtWorst = difference
            budgetAtWorst = budget
        }
        if difference > (greatestAbsolute?.value ?? -1) {
            greatestAbsolute = Located(value: difference, index: index)
            budgetAtGreatestAbsolute = mode == .exact ? 0 : budget
        }
        let relative = difference == 0 ? 0 : difference / golden
        if relative > (greatestRelative?.value ?? -1) { greatestRelative = Located(value: relative, index: index) }
    }

    private mutating func recordMismatch(_ index: Int, actual: String, golden: String) {
        mismatchCount += 1
        if mismatchIndices.count < Self.shownPairs {
            mismatchIndices.append(index)
            actualText[index] = actual
            goldenText[index] = golden
        }
    }

    /// Flips each vector (entries along `axis`) so that its largest-magnitude entry is positive; ties go
    /// to the lower index and NaN entries never win.
    static func canonicaliseSigns(_ values: inout [Double], shape: [Int], axis: Int) {
        guard !values.isEmpty else { return }
        let dims = shape.isEmpty ? [1] : shape
        let length = dims[axis]
        let stride = dims[(axis + 1)...].reduce(1, *)
        let outer = dims[..<axis].reduce(1, *)
        for o in 0 ..< outer {
            for s in 0 ..< stride {
                let base = o * length * stride + s
                var pivot = base, largest = -1.0
                for k in 0 ..< length {
                    let magnitude = abs(values[base + k * stride])
                    if magnitude > largest { largest = magnitude; pivot = base + k * stride }
                }
                if values[pivot] < 0 {
                    for k in 0 ..< length { values[base + k * stride] = -values[base + k * stride] }
                }
            }
        }
    }

    // MARK: Report

    /// The numpy-style multi-line report for a failing comparison.
    /// `goldenPath`: named in the first line where the report stands alone (the mismatch that holds it
    /// names the path once itself).
    public func report(goldenPath: String? = nil) -> String {
        var lines = [(goldenPath.map { "Golden mismatch in \($0), tensor" } ?? "Tensor") + " \"\(name)\" (\(dtype), shape \(shape), \(mode))"]
        let percent = count == 0 ? 0 : 100 * Double(mismatchCount) / Double(count)
        lines.append("Mismatched elements: \(mismatchCount) / \(count) (\(NumberText.fixed(percent, digits: 3))%)")
        if let greatest = greatestAbsolute {
            let budget = budgetAtGreatestAbsolute.map { NumberText.general($0) } ?? "0"
            lines.append("Greatest absolute difference: \(NumberText.general(greatest.value)) at index \(indexText(greatest.index)) (allowed \(budget) there)")
        } else {
            lines.append("Greatest absolute difference: none among finite pairs")
        }
        if let greatest = greatestRelative {
            lines.append("Greatest relative difference: \(NumberText.general(greatest.value)) at index \(indexText(greatest.index))")
        }
        let shown = mismatchIndices.map { "  \(indexText($0)): actual \(actualText[$0] ?? "?"), golden \(goldenText[$0] ?? "?")" }
        let qualifier = if case .signCanonical = mode { " after sign canonicalisation" } else { "" }
        lines.append("First mismatches (\(shown.count) of \(mismatchCount))\(qualifier):")
        lines.append(contentsOf: shown)
        return lines.joined(separator: "\n")
    }

    /// A numpy-style index such as `(1, 2)` for a flat row-major index.
    public func indexText(_ flat: Int) -> String {
        Self.indexText(flat, shape: shape)
    }

    static func indexText(_ flat: Int, shape: [Int]) -> String {
        var remainder = flat
        var parts: [Int] = []
        for dim in shape.reversed() {
            parts.append(dim == 0 ? 0 : remainder % dim)
            remainder = dim == 0 ? 0 : remainder / dim
        }
        let inner = parts.reversed().map(String.init).joined(separator: ", ")
        return shape.count == 1 ? "(\(inner),)" : "(\(inner))"
    }
}
