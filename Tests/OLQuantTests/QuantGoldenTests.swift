import OLCore
import OLGoldens
import OLQuant
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
