import OLCore
import OLGoldens
import OLMetrics
import Testing

/// Metric goldens (`Goldens/metrics/`): every outlier metric on fixed seeded activations, attention
/// entropy on fixed probabilities, and the kurtosis-update decomposition. Inputs (`input.*`, F32) are
/// stored, outputs (`output.*`) are F64 as the metrics compute them.
@Suite("metric goldens")
struct MetricGoldenTests {
    @Test("every tap metric matches the accepted golden", arguments: MetricGolden.Activations.allCases)
    func tapMetrics(_ activations: MetricGolden.Activations) throws {
        try Goldens.check(MetricGolden.tapMetrics(activations))
    }

    @Test("attention entropy of fixed uniform, collapsed and softmax heads matches the accepted golden")
    func attentionEntropy() throws {
        try Goldens.check(MetricGolden.attentionEntropy())
    }

    @Test("the kurtosis-update decomposition terms match the accepted golden")
    func kurtosisUpdate() throws {
        try Goldens.check(MetricGolden.kurtosisUpdate())
    }
}

enum MetricGolden {
    static let rows = 16, width = 12

    /// Seeded inputs are bitwise. Metrics accumulate in Double from float inputs, in a fixed order; a
    /// reordered Double sum moves a result by ~n·d·1e-16 relative, and the only libm call (log in the
    /// entropy) is within an ulp on every platform, so rtol 1e-9 leaves six orders of margin while any
    /// change of definition (centring, lower median, biased vs unbiased variance) moves values by
    /// ≥ 1e-3. atol 1e-12 covers statistics that cancel to ~0 (mean token correlation of i.i.d. rows).
    static let input = CompareMode.exact
    static let output = CompareMode.allclose(rtol: 1e-9, atol: 1e-12)

    enum Activations: String, CaseIterable, Sendable {
        /// i.i.d. N(0, 1): kurtosis near 1 + 2/n, small correlations.
        case gaussian
        /// The same with neuron 5 scaled by 20: a planted outlier feature
        /// (kurtosis ≈ d(r⁴ + d − 1)/(r² + d − 1)² ≈ 11.4 of the maximum d = 12).
        case outlierNeuron
        /// Every row a shared direction plus 0.3·noise: strong token–token correlation (bad signal propagation).
        case correlatedTokens
    }

    static func activations(_ kind: Activations) -> [Float] {
        var stream = RandomStream(seed: 31, purpose: "metric-goldens")
        var x = (0..<(rows * width)).map { _ in Float(stream.nextNormal()) }
        switch kind {
        case .gaussian: break
        case .outlierNeuron:
            for row in 0..<rows { x[row * width + 5] *= 20 }
        case .correlatedTokens:
            let shared = (0..<width).map { _ in Float(stream.nextNormal()) }
            for row in 0..<rows {
                for j in 0..<width { x[row * width + j] = shared[j] + 0.3 * x[row * width + j] }
            }
        }
        return x
    }

    static func scalar(_ name: String, _ value: Double) -> GoldenTensor {
        GoldenTensor(NamedTensor(name: "output.\(name)", shape: [], values: .float64([value])), compare: output)
    }

    static func tapMetrics(_ kind: Activations) -> GoldenCase {
        let x = activations(kind)
        let metrics = TapMetrics(activations: x, rows: rows, width: width)
        var tensors = [GoldenTensor(NamedTensor(name: "input.x", shape: [rows, width], floats: x), compare: input)]
        tensors += metrics.keyedValues.map { scalar($0.key, $0.value) }
        for centringRows in [false, true] {
            tensors.append(GoldenTensor(NamedTensor(name: centringRows ? "output.mmr_centred_per_row" : "output.mmr_per_row", shape: [rows],
                                                    values: .float64(maxMedianRatioPerRow(x, rows: rows, width: width, centringRows: centringRows))),
                                        compare: output))
        }
        tensors.append(GoldenTensor(NamedTensor(name: "output.width_centred_normalised", shape: [rows, width],
                                                values: .float64(widthCentredNormalised(x, rows: rows, width: width))), compare: output))
        return GoldenCase(suite: "metrics", name: "tap_\(kind.rawValue)", kind: "tap_metrics",
                          config: .object([JSONMember("rows", .int(Int64(rows))), JSONMember("width", .int(Int64(width))),
                                           JSONMember("activations", .string(kind.rawValue))]),
                          seed: 31, tensors: tensors)
    }

    /// (B=2, H=2, T=6) causal probabilities: batch 0 head 0 uniform over the causal keys (entropy
    /// log(t+1) per row), batch 0 head 1 collapsed onto key 0 (entropy 0), batch 1 a softmax of seeded
    /// N(0, 2²) logits.
    static func attentionEntropy() -> GoldenCase {
        let (B, H, T) = (2, 2, 6)
        var stream = RandomStream(seed: 32, purpose: "metric-goldens")
        var p = [Float](repeating: 0, count: B * H * T * T)
        for b in 0..<B {
            for h in 0..<H {
                for t in 0..<T {
                    let row = ((b * H + h) * T + t) * T
                    let logits = (0...t).map { _ in 2 * stream.nextNormal() }
                    let weights: [Double] = switch (b, h) {
                    case (0, 0): Array(repeating: 1, count: t + 1)
                    case (0, _): [1] + Array(repeating: 0, count: t)
                    default: logits.map { exp($0 - logits.max()!) }
                    }
                    let total = weights.reduce(0, +)
                    for k in 0...t { p[row + k] = Float(weights[k] / total) }
                }
            }
        }
        return GoldenCase(suite: "metrics", name: "attention_entropy", kind: "attention_entropy",
                          config: .object([JSONMember("B", .int(Int64(B))), JSONMember("H", .int(Int64(H))), JSONMember("T", .int(Int64(T)))]),
                          seed: 32, tensors: [
                              GoldenTensor(NamedTensor(name: "input.probabilities", shape: [B, H, T, T], floats: p), compare: input),
                              scalar("attention_entropy", OLMetrics.attentionEntropy(p, batch: B, heads: H, length: T)),
                          ])
    }

    /// X with the planted outlier neuron and a seeded ΔX of std 0.1 (one optimiser step's worth).
    static func kurtosisUpdate() -> GoldenCase {
        let x = activations(.outlierNeuron)
        var stream = RandomStream(seed: 33, purpose: "metric-goldens")
        let delta = (0..<(rows * width)).map { _ in Float(0.1 * stream.nextNormal()) }
        let terms = kurtosisUpdateTerms(activations: x, delta: delta, rows: rows, width: width)
        let outputs: [(String, Double)] = [("mean_square", terms.meanSquare), ("mean_fourth", terms.meanFourth)]
            + terms.keyedTerms
            + [("kurtosis_before", terms.kurtosisBefore), ("kurtosis_after", terms.kurtosisAfter),
               ("first_order_kurtosis_change", terms.firstOrderKurtosisChange)]
        return GoldenCase(suite: "metrics", name: "kurtosis_update", kind: "kurtosis_update",
                          config: .object([JSONMember("rows", .int(Int64(rows))), JSONMember("width", .int(Int64(width)))]),
                          seed: 33, tensors: [
                              GoldenTensor(NamedTensor(name: "input.x", shape: [rows, width], floats: x), compare: input),
                              GoldenTensor(NamedTensor(name: "input.delta", shape: [rows, width], floats: delta), compare: input),
                          ] + outputs.map { scalar($0.0, $0.1) })
    }
}
