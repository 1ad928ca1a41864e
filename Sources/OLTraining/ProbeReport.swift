import OLCore
import OLData
import OLMetrics
import OLModel

/// The probe loss and every outlier metric of one model on the fixed probe batch: what `metrics.jsonl`
/// logs per step, `summary.json` summarises and `olab metrics` prints for a checkpoint.
public struct ProbeReport: Sendable {
    public let loss: Double
    /// One entry per residual tap 0...L (empty when metrics are off).
    public let taps: [TapMetrics]
    /// Attention entropy per layer (empty when metrics are off).
    public let attentionEntropy: [Double]
    /// Per linear layer kind, one entry per block: the metrics of that layer's input (empty unless
    /// linear-input taps are on).
    public let linearInputs: [(linear: LinearLayer, blocks: [TapMetrics])]
    /// Where the outliers live (empty unless diagnostics are on): per residual tap 0...L, position 0
    /// against the rest; per layer, the attention mass on key 0; per linear layer kind, one peak row
    /// max/median per block at the input W8A8 quantises.
    public let positionSplit: [PositionSplitMagnitudes]
    public let firstKeyMass: [Double]
    public let sitePeaks: [(linear: LinearLayer, blocks: [Double])]

    public init(model: GPT, probe: ProbeBatch, metrics: Bool = true, linearTaps: Bool = false, diagnostics: Bool = false) {
        let config = model.config
        let B = probe.batchSize, T = probe.sequenceLength
        loss = probe.inputs.withUnsafeBufferPointer { x in
            probe.targets.withUnsafeBufferPointer { y in model.forward(tokens: x, targets: y, B: B, T: T)! }
        }
        if diagnostics {
            positionSplit = (0...config.layers).map { PositionSplitMagnitudes(model.tap($0), batch: B, length: T, width: config.width) }
            firstKeyMass = (0..<config.layers).map {
                attentionMassOnFirstKey(model.attentionProbabilities(layer: $0), batch: B, heads: config.heads, length: T)
            }
            sitePeaks = LinearLayer.allCases.map { linear in
                (linear, (0..<config.layers).map { l in
                    let input = model.linearInput(layer: l, linear)
                    return peakMaxMedianRatio(input.values, rows: B * T, width: input.width)
                })
            }
        } else {
            positionSplit = []
            firstKeyMass = []
            sitePeaks = []
        }
        guard metrics else {
            taps = []
            attentionEntropy = []
            linearInputs = []
            return
        }
        taps = (0...config.layers).map { TapMetrics(activations: model.tap($0), rows: B * T, width: config.width) }
        attentionEntropy = (0..<config.layers).map {
            OLMetrics.attentionEntropy(model.attentionProbabilities(layer: $0), batch: B, heads: config.heads, length: T)
        }
        linearInputs = !linearTaps ? [] : LinearLayer.allCases.map { linear in
            (linear, (0..<config.layers).map { l in
                let input = model.linearInput(layer: l, linear)
                return TapMetrics(activations: input.values, rows: B * T, width: input.width)
            })
        }
    }

    /// The log key of metric `key` of the inputs of `linear`: `qkv_in_kurtosis`, `mlp_proj_in_mmr`, ...
    public static func linearInputKey(_ linear: LinearLayer, _ key: String) -> String { "\(linear.rawValue)_in_\(key)" }

    /// Per-tap arrays under the `metrics.jsonl` keys, then `attention_entropy` per layer, then (linear taps
    /// on) `<linear>_in_<key>` arrays over blocks.
    public var perTapMembers: [JSONMember] {
        metricMembers + diagnosticMembers
    }

    private var metricMembers: [JSONMember] {
        guard !taps.isEmpty else { return [] }
        return TapMetrics.keys.map { key in JSONMember(key, .array(taps.map { .double($0[key]!) })) }
            + [JSONMember("attention_entropy", .array(attentionEntropy.map(JSONValue.double)))]
            + linearInputs.flatMap { linear, blocks in
                TapMetrics.keys.map { key in JSONMember(Self.linearInputKey(linear, key), .array(blocks.map { .double($0[key]!) })) }
            }
    }

    /// The diagnostics' `metrics.jsonl` keys: `max_abs_pos0`, `max_abs_rest`, `mmr_pos0`, `mmr_rest` per
    /// residual tap, `attention_mass_pos0` per layer and `<linear>_in_peak_mmr` per block (a non-finite
    /// value is written as null).
    public var diagnosticMembers: [JSONMember] {
        guard !positionSplit.isEmpty else { return [] }
        let perTap: [(String, KeyPath<PositionSplitMagnitudes, Double>)] = [
            ("max_abs_pos0", \.maxAbsFirst), ("max_abs_rest", \.maxAbsRest), ("mmr_pos0", \.maxMedianFirst), ("mmr_rest", \.maxMedianRest),
        ]
        return perTap.map { key, path in JSONMember(key, .array(positionSplit.map { .double($0[keyPath: path]) })) }
            + [JSONMember("attention_mass_pos0", .array(firstKeyMass.map(JSONValue.double)))]
            + sitePeaks.map { linear, blocks in JSONMember(Self.linearInputKey(linear, "peak_mmr"), .array(blocks.map(JSONValue.double))) }
    }

    /// `mean_<key>` and `peak_<key>` over the taps, then over the blocks of each linear input
    /// (`mean_<linear>_in_<key>`, `peak_<linear>_in_<key>`).
    public var summaryMembers: [JSONMember] {
        Self.summaryMembers(taps) { $0 } + linearInputs.flatMap { linear, blocks in
            Self.summaryMembers(blocks) { Self.linearInputKey(linear, $0) }
        }
    }

    private static func summaryMembers(_ taps: [TapMetrics], naming name: (String) -> String) -> [JSONMember] {
        guard let summary = TapMetricsSummary(taps) else { return [] }
        return summary.layerMean.keyedValues.map { JSONMember("mean_" + name($0.key), .double($0.value)) }
            + summary.peak.keyedValues.map { JSONMember("peak_" + name($0.key), .double($0.value)) }
    }
}
