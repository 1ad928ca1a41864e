import OLCore
import Testing
@testable import OLGoldens

@Suite("tensor comparison")
struct ComparisonTests {
    static func f32(_ values: [Float], shape: [Int]? = nil) -> NamedTensor {
        NamedTensor(name: "t", shape: shape ?? [values.count], floats: values)
    }

    static func f64(_ values: [Double]) -> NamedTensor {
        NamedTensor(name: "t", shape: [values.count], values: .float64(values))
    }

    // Budgets chosen as powers of two so atol + rtol·|g| and a − g are exact in Double: the boundary is
    // then exactly representable and "one ulp beyond" is unambiguous.
    struct Boundary: Sendable, CustomStringConvertible {
        var label: String
        var golden: NamedTensor
        var atBudget: NamedTensor
        var beyond: NamedTensor
        var mode: CompareMode
        var description: String { label }
    }

    static let boundaries: [Boundary] = [
        Boundary(label: "F32 atol", golden: f32([1]), atBudget: f32([1 + 0x1p-10]), beyond: f32([(1 + 0x1p-10 as Float).nextUp]),
                 mode: .allclose(rtol: 0, atol: 0x1p-10)),
        Boundary(label: "F32 rtol below", golden: f32([-4]), atBudget: f32([-4 - 1]), beyond: f32([(-5 as Float).nextDown]),
                 mode: .allclose(rtol: 0.25, atol: 0)),
        Boundary(label: "F64 atol", golden: f64([1]), atBudget: f64([1.5]), beyond: f64([Double(1.5).nextUp]), mode: .allclose(rtol: 0, atol: 0.5)),
        Boundary(label: "F64 rtol+atol", golden: f64([2]), atBudget: f64([2.75]), beyond: f64([Double(2.75).nextUp]), mode: .allclose(rtol: 0.25, atol: 0.25)),
        Boundary(label: "I64 atol", golden: NamedTensor(name: "t", shape: [1], values: .int64([10])),
                 atBudget: NamedTensor(name: "t", shape: [1], values: .int64([12])),
                 beyond: NamedTensor(name: "t", shape: [1], values: .int64([13])), mode: .allclose(rtol: 0, atol: 2)),
    ]

    @Test("allclose passes exactly at the budget and fails one ulp beyond it", arguments: boundaries)
    func allcloseBoundary(boundary: Boundary) {
        #expect(TensorComparison.compare(actual: boundary.atBudget, golden: boundary.golden, mode: boundary.mode).passed)
        let beyond = TensorComparison.compare(actual: boundary.beyond, golden: boundary.golden, mode: boundary.mode)
        #expect(beyond.mismatchCount == 1)
    }

    @Test("the budget scales with the golden, not the actual value (numpy semantics)")
    func goldenIsReference() {
        // |a − g| = 1 both ways; rtol 0.4 allows 0.8 around g = 2 (fails) but 1.2 around g = 3 (passes).
        #expect(!TensorComparison.compare(actual: Self.f64([3]), golden: Self.f64([2]), mode: .allclose(rtol: 0.4, atol: 0)).passed)
        #expect(TensorComparison.compare(actual: Self.f64([2]), golden: Self.f64([3]), mode: .allclose(rtol: 0.4, atol: 0)).passed)
    }

    @Test("a relative 1e-4 perturbation of one element fails an rtol 1e-5 golden; 1e-7 passes", arguments: [(1e-4, false), (1e-7, true)])
    func perturbation(relative: Double, passes: Bool) {
        let golden: [Float] = (0 ..< 64).map { Float($0) * 0.37 - 5 }
        var actual = golden
        // A 1e-7 change rounds to the same float or its neighbour (at most 1.2e-7 relative), far inside
        // rtol 1e-5; 1e-4 is ten times the budget.
        actual[17] = Float(Double(actual[17]) * (1 + relative))
        let comparison = TensorComparison.compare(actual: Self.f32(actual), golden: Self.f32(golden), mode: .allclose(rtol: 1e-5, atol: 0))
        #expect(comparison.passed == passes)
        #expect(comparison.mismatchCount == (passes ? 0 : 1))
    }

    @Test("NaN matches only NaN and an infinity only the same infinity under allclose", arguments: [
        (Float.nan, Float(bitPattern: 0x7FC0_0001), true),
        (Float.nan, 1, false),
        (1, Float.nan, false),
        (Float.infinity, Float.infinity, true),
        (Float.infinity, -Float.infinity, false),
        (Float.greatestFiniteMagnitude, Float.infinity, false),
    ])
    func nonFinite(actual: Float, golden: Float, matches: Bool) {
        let comparison = TensorComparison.compare(actual: Self.f32([actual]), golden: Self.f32([golden]), mode: .allclose(rtol: 1, atol: 1))
        #expect(comparison.passed == matches)
    }

    @Test("exact compares bits: -0.0 differs from 0.0 and NaN payloads must agree", arguments: [
        (Float(0), Float(-0.0), false),
        (Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0x7FC0_0002), false),
        (Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0x7FC0_0001), true),
        (Float(1).nextUp, Float(1), false),
    ])
    func exactBits(actual: Float, golden: Float, matches: Bool) {
        #expect(TensorComparison.compare(actual: Self.f32([actual]), golden: Self.f32([golden]), mode: .exact).passed == matches)
    }

    @Test("integer differences are exact even across the whole Int64 range")
    func integerExtremes() {
        let golden = NamedTensor(name: "t", shape: [2], values: .int64([.min, .max]))
        let actual = NamedTensor(name: "t", shape: [2], values: .int64([.max, .min]))
        let comparison = TensorComparison.compare(actual: actual, golden: golden, mode: .allclose(rtol: 0, atol: 1e18))
        #expect(comparison.mismatchCount == 2)
        #expect(comparison.greatestAbsolute?.value == Double(UInt64.max))
    }

    // MARK: Sign-canonical

    /// Eigenvectors of [[2, 1], [1, 2]] as columns (vectors along axis 0).
    static let eigenvectors: [Float] = [0.70710677, -0.70710677, 0.70710677, 0.70710677]

    @Test("sign-canonical accepts eigenvectors with any column flipped", arguments: [[1, 1], [-1, 1], [1, -1], [-1, -1]] as [[Float]])
    func signFlippedAccepted(signs: [Float]) {
        let flipped = (0 ..< 4).map { Self.eigenvectors[$0] * signs[$0 % 2] }
        let comparison = TensorComparison.compare(actual: Self.f32(flipped, shape: [2, 2]), golden: Self.f32(Self.eigenvectors, shape: [2, 2]),
                                                  mode: .signCanonical(rtol: 1e-6, atol: 1e-7, axis: 0))
        #expect(comparison.passed)
    }

    @Test("sign-canonical rejects a genuinely different vector set and plain allclose rejects a flip")
    func differentRejected() {
        let golden = Self.f32(Self.eigenvectors, shape: [2, 2])
        let rotated = Self.f32([1, 0, 0, 1], shape: [2, 2])
        #expect(!TensorComparison.compare(actual: rotated, golden: golden, mode: .signCanonical(rtol: 1e-3, atol: 1e-3, axis: 0)).passed)
        let flipped = Self.f32(Self.eigenvectors.map { -$0 }, shape: [2, 2])
        #expect(!TensorComparison.compare(actual: flipped, golden: golden, mode: .allclose(rtol: 1e-3, atol: 1e-3)).passed)
    }

    @Test("sign canonicalisation makes the largest entry positive, ties going to the lower index, along the chosen axis")
    func canonicalisation() {
        var columns: [Double] = [1, -3, -2, 3, 0.5, -1] // shape [3, 2]: column 0 = (1, -2, 0.5), column 1 = (-3, 3, -1)
        TensorComparison.canonicaliseSigns(&columns, shape: [3, 2], axis: 0)
        #expect(columns == [-1, 3, 2, -3, -0.5, 1])
        var rows: [Double] = [1, -3, -2, 3, 0.5, -1] // shape [3, 2] with vectors along axis 1: rows (1, -3), (-2, 3), (0.5, -1)
        TensorComparison.canonicaliseSigns(&rows, shape: [3, 2], axis: 1)
        #expect(rows == [-1, 3, -2, 3, -0.5, 1])
    }

    // MARK: Failure message

    @Test("a failure report names the file and tensor and gives numpy-style counts, differences, budget and pairs")
    func failureMessage() {
        let golden = Self.f32([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let actual = Self.f32([1, 2.5, 3, 4, 5, 6.001], shape: [2, 3])
        let comparison = TensorComparison.compare(actual: actual, golden: golden, mode: .allclose(rtol: 1e-5, atol: 1e-6))
        let report = comparison.report(goldenPath: "Goldens/unit/sample.golden.gz")
        for piece in [
            "Goldens/unit/sample.golden.gz", "tensor \"t\"", "F32, shape [2, 3]", "allclose rtol=1e-05 atol=1e-06",
            "Mismatched elements: 2 / 6 (33.333%)",
            "Greatest absolute difference: 0.5 at index (0, 1) (allowed 2.1e-05 there)",
            "Greatest relative difference: 0.25 at index (0, 1)",
            "(0, 1): actual 2.5, golden 2.0", "(1, 2): actual 6.001, golden 6.0",
        ] {
            #expect(report.contains(piece), "missing \"\(piece)\" in:\n\(report)")
        }
    }

    @Test("indices are printed numpy style for every rank", arguments: [
        ([], 0, "()"), ([5], 3, "(3,)"), ([2, 3], 5, "(1, 2)"), ([2, 3, 4], 23, "(1, 2, 3)"),
    ] as [([Int], Int, String)])
    func indexText(shape: [Int], flat: Int, expected: String) {
        #expect(TensorComparison.indexText(flat, shape: shape) == expected)
    }
}
