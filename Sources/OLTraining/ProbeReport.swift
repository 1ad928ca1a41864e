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

    public init(model: GPT, probe: ProbeBatch, metrics: Bool = true) {
        let config = model.config
        let B = probe.batchSize, T = probe.sequenceLength
        loss = probe.inputs.withUnsafeBufferPointer { x in
            probe.targets.withUnsafeBufferPointer { y in model.forward(tokens: x, targets: y, B: B, T: T)! }
        }
        guard metrics else {
            taps = []
            attentionEntropy = []
            return
        }
        taps = (0...config.layers).map { TapMetrics(activations: model.tap($0), rows: B * T, width: config.width) }
        attentionEntropy = (0..<config.layers).map {
            OLMetrics.attentionEntropy(model.attentionProbabilities(layer: $0), batch: B, heads: config.heads, length: T)
        }
    }

    /// Per-tap arrays under the `metrics.jsonl` keys, then `attention_entropy` per layer.
    public var perTapMembers: [JSONMember] {
        guard !taps.isEmpty else { return [] }
        return TapMetrics.keys.map { key in JSONMember(key, .array(taps.map { .double($0[key]!) })) }
            + [JSONMember("attention_entropy", .array(attentionEntropy.map(JSONValue.double)))]
    }

    /// `mean_<key>` and `peak_<key>` over the taps.
    public var summaryMembers: [JSONMember] {
        TapMetricsSummary(taps).map { $0.keyedValues.map { JSONMember($0.key, .double($0.value)) } } ?? []
    }
}

extension TrainingConfig {
    /// The corpus this config trains on: the synthetic corpus (always seed 0, `synthetic_bytes` long) or
    /// the file/directory at `corpus`, split at `train_fraction`.
    public func loadCorpus() throws -> ByteCorpus {
        corpus == "synthetic"
            ? try SyntheticCorpus.corpus(seed: 0, byteCount: syntheticBytes, trainFraction: trainFraction)
            : try ByteCorpus(path: corpus, trainFraction: trainFraction)
    }
}
