import ArgumentParser
import OLCore
import OLData
import OLMetrics
import OLModel
import OLTraining

/// `olab metrics`: every outlier metric per tap and the attention entropy per layer of a checkpoint on its
/// run's fixed probe batch, with the keys of `metrics.jsonl` (arrays over taps 0...L), as one JSON object.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Outlier metrics per tap and attention entropy per layer of a checkpoint on its probe batch (one JSON object)."
    )

    @Option(help: "Checkpoint file (model.safetensors or checkpoint.safetensors of a run).") var checkpoint: String
    @Option(help: "Sequences in the probe batch (default: the run's probe_batch).") var probeBatch: Int?

    func run() throws {
        try reportingErrors {
            let loaded = try LoadedCheckpoint(path: checkpoint)
            let config = loaded.checkpoint.config
            let B = probeBatch ?? config.probeBatch, T = config.model.seq
            let probe = try ProbeBatch(validation: loaded.corpus.validation, batchSize: B, sequenceLength: T, seed: config.seed)
            let model = try GPT(config: config.model, parameters: loaded.parameters, maxBatch: B)
            let loss = probe.inputs.withUnsafeBufferPointer { x in
                probe.targets.withUnsafeBufferPointer { y in model.forward(tokens: x, targets: y, B: B, T: T)! }
            }
            let taps = (0...config.model.layers).map { TapMetrics(activations: model.tap($0), rows: B * T, width: config.model.width) }
            let entropy = (0..<config.model.layers).map {
                attentionEntropy(model.attentionProbabilities(layer: $0), batch: B, heads: config.model.heads, length: T)
            }
            var members = [
                JSONMember("checkpoint", .string(checkpoint)),
                JSONMember("step", .int(Int64(loaded.checkpoint.step))),
                JSONMember("probe_batch", .int(Int64(B))),
                JSONMember("probe_loss", .double(loss)),
            ]
            for key in TapMetrics.keys { members.append(JSONMember(key, .array(taps.map { .double($0[key]!) }))) }
            members.append(JSONMember("attention_entropy", .array(entropy.map(JSONValue.double))))
            if let summary = TapMetricsSummary(taps) {
                members += summary.keyedValues.map { JSONMember($0.key, .double($0.value)) }
            }
            print(JSONValue.object(members).serialized())
        }
    }
}
