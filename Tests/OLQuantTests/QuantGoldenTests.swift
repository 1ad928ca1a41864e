import OLCore
import OLGoldens
import OLModel
@testable import OLQuant
import Testing

/// Quantisation golden (`Goldens/quantisation/`): what every W8A8 scheme (and naive at 4 bits) makes of a
/// fixed seeded tiny model and batch — quantised weights with their scales, the quantised input of every
/// linear layer with its scales, the static scheme's calibrated scales and zero points, and the quantised
/// loss (see `QuantGoldenFixture`).
@Suite("quantisation golden")
struct QuantGoldenTests {
    @Test("every scheme's quantised weights, activations, scales, zero points and loss match the accepted golden")
    func schemes() throws {
        let tensors = try QuantGoldenFixture.tensors()
        let scales = Dictionary(uniqueKeysWithValues: tensors.compactMap { t in t.floats.map { (t.name, $0) } })
        let goldenTensors = tensors.map { tensor in GoldenTensor(tensor, compare: Self.compareMode(tensor, scales: scales)) }
        let config = JSONValue.object([
            "model": QuantGoldenFixture.config.goldenDescription, "batch": .int(Int64(QuantGoldenFixture.batch)),
            "settings": .array(QuantGoldenFixture.settings.map { .string("\($0.scheme.rawValue)@\($0.bits)") }),
            "constants": QuantGoldenFixture.constants,
        ])
        try Goldens.check(GoldenCase(suite: "quantisation", name: "schemes_tiny_preLN", kind: "quantisation",
                                     config: config, seed: QuantGoldenFixture.modelSeed, tensors: goldenTensors))
    }

    @Test("SmoothQuant's channel maxima, scales, folded quantised weights, activations and loss match the accepted golden")
    func smoothQuant() throws {
        let config = QuantGoldenFixture.smoothConfig, settings = QuantGoldenFixture.smoothSettings
        let tensors = try QuantGoldenFixture.tensors(config: config, settings: settings)
        let scales = Dictionary(uniqueKeysWithValues: tensors.compactMap { t in t.floats.map { (t.name, $0) } })
        let goldenTensors = tensors.map { tensor in GoldenTensor(tensor, compare: Self.compareMode(tensor, scales: scales)) }
        let folds = JSONValue.object((0..<config.layers).flatMap { l in
            LinearLayer.allCases.map { linear in
                JSONMember(ActivationSite.linearInput(layer: l, linear: linear).name, .string(SmoothQuantPlan.fold(linear, layer: l, config: config).name))
            }
        })
        let golden = JSONValue.object([
            "model": config.goldenDescription, "batch": .int(Int64(QuantGoldenFixture.batch)),
            "settings": .array(settings.map { .string("\($0.scheme.rawValue)@\($0.bits)") }),
            "constants": QuantGoldenFixture.constants,
            "smoothquant": .object([
                JSONMember("alpha", .double(settings[0].resolvedAlpha)), JSONMember("floor", .double(SmoothQuantPlan.floor)),
                JSONMember("folds", folds),
            ]),
        ])
        try Goldens.check(GoldenCase(suite: "quantisation", name: "smoothquant_tiny_op", kind: "quantisation",
                                     config: golden, seed: QuantGoldenFixture.modelSeed, tensors: goldenTensors))
    }

    @Test("the symmetric quantiser's ties, scale floor and clamp match the accepted golden")
    func quantiserEdges() throws {
        try Goldens.check(QuantiserGolden.goldenCase())
    }

    /// Tokens, targets, zero points and every `input.` tensor (float weights, calibration crops) are exact. Weights and their scales come from the seeded
    /// initialisation through element-wise code only: rtol 1e-6 (bit-exact here; an ulp of slack for another
    /// libm). Activations pass through sgemm first, so another BLAS kernel moves them by ~1e-6 relative and
    /// can push a value across a rounding boundary: one grid step (the site's own largest scale) plus
    /// rtol 1e-4 allows exactly that and nothing more. A site's float `.input` gets the same budget: the
    /// replay computes it from the recorded outputs of the sites before it, so only one segment's
    /// rounding (and at most one flip of an attention-internal rounding inside it) enters. Scales and losses: rtol 1e-4, 100× the measured
    /// cross-BLAS spread of the kernels' sgemm outputs.
    static func compareMode(_ tensor: NamedTensor, scales: [String: [Float]]) -> CompareMode {
        let name = tensor.name
        if tensor.int64s != nil || name.hasPrefix("input.") { return .exact }
        if name.hasSuffix(".weight") { return .allclose(rtol: 1e-6, atol: 0) }
        if name.hasSuffix(".weight_scale") { return .allclose(rtol: 1e-6, atol: 0) }
        for suffix in [".act", ".input"] where name.hasSuffix(suffix) {
            let site = String(name.dropLast(suffix.count))
            let step = (scales[site + ".act_scale"] ?? scales[site + ".range_scale"])?.max() ?? 0
            return .allclose(rtol: 1e-4, atol: Double(step))
        }
        return .allclose(rtol: 1e-4, atol: 1e-7)
    }
}

/// The symmetric quantiser on hand-made rows where its conventions decide the result
/// (`quantisation/symmetric_quantiser`): a seeded model's weights almost never land on a rounding tie or
/// below the scale floor, so the schemes golden cannot tell those conventions from their alternatives.
///   row 0: absmax 127·2⁻⁷, the largest of the tensor, so at 8 bits s = 2⁻⁷ exactly (per tensor and per
///          row) and every (k + ½)·2⁻⁷ is an exact tie (half to even);
///   row 1: all zeros (the floor keeps s finite and positive);
///   row 2: absmax 4e-7, below the floor 1e-5 (the floor sets s, so these round to a few multiples of s);
///   row 3: seeded N(0, 0.3²) values, clamped inside row 0's absmax so it stays the tensor's.
/// Outputs per setting `<granularity>.b<bits>`: `x` the fake-quantised rows, `scale` (1 or rows).
enum QuantiserGolden {
    static let columns = 8
    static let seed: UInt64 = 91
    static let settings: [(SymmetricGranularity, Int)] = [(.perTensor, 8), (.perToken, 8), (.perTensor, 4), (.perToken, 4)]

    static func input() -> [Float] {
        let step: Float = 1.0 / 128
        let ties: [Float] = [127, 0.5, 1.5, 2.5, -0.5, -2.5, 100.5, -126.5].map { $0 * step }
        let zeros = [Float](repeating: 0, count: columns)
        let tiny: [Float] = [4e-7, -4e-7, 1e-7, -2e-7, 3e-7, 0, 5e-8, -4e-7]
        var random = RandomStream(seed: seed, purpose: "quantiser golden")
        let ordinary = (0..<columns).map { _ in min(max(Float(random.nextNormal() * 0.3), -0.98), 0.98) }
        return ties + zeros + tiny + ordinary
    }

    static func goldenCase() -> GoldenCase {
        let x = input(), rows = x.count / columns
        // Element-wise float32 from exact inputs, no libm: bitwise on every machine; rtol 1e-6 is the
        // weights' budget in the schemes golden, an ulp of slack for another compiler's contraction.
        let values = CompareMode.allclose(rtol: 1e-6, atol: 0)
        var tensors = [GoldenTensor(NamedTensor(name: "input.x", shape: [rows, columns], floats: x), compare: .exact)]
        for (granularity, bits) in settings {
            var q = x
            let scales = q.withUnsafeMutableBufferPointer { fakeQuantizeSymmetric($0, rows: rows, columns: columns, granularity: granularity, bits: bits) }
            let prefix = "output.\(granularity.rawValue).b\(bits)."
            tensors.append(GoldenTensor(NamedTensor(name: prefix + "x", shape: [rows, columns], floats: q), compare: values))
            tensors.append(GoldenTensor(NamedTensor(name: prefix + "scale", shape: [scales.count], floats: scales), compare: values))
        }
        let config = JSONValue.object([
            "settings": .array(settings.map { .string("\($0.0.rawValue)@\($0.1)") }),
            "constants": .object([JSONMember("min_absmax", .shortest(minimumAbsMax))]),
        ])
        return GoldenCase(suite: "quantisation", name: "symmetric_quantiser", kind: "quantiser", config: config, seed: seed, tensors: tensors)
    }
}
