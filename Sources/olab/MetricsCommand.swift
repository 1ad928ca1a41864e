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

    @Option(help: "Sequences in the probe batch (default: the run's probe_batch).") var probeBatch: Int?
    @Flag(help: "Also report the metrics of every linear layer's input per block (on when the run logged them).") var linearTaps = false
    @OptionGroup var input: CheckpointInput

    /// `--probe-batch` (or the run's) checked by `SizeLimits` against memory before anything is allocated.
    func probeBatchSize(config: TrainingConfig) throws -> Int {
        let B = try SizeLimits.count(probeBatch ?? config.probeBatch, "--probe-batch", atMost: Int.max)
        try SizeLimits.requireMemory(SizeLimits.sum(SizeLimits.modelBytes(config.model, rows: B, parameterCopies: 1),
                                                    SizeLimits.product(B, config.model.seq, 16)),
                                     source: "olab metrics", what: "a probe batch of \(B) sequences of \(config.model.seq) tokens",
                                     remedy: "pass a smaller --probe-batch")
        return B
    }

    func run() throws {
        if let probeBatch { _ = try SizeLimits.count(probeBatch, "--probe-batch", atMost: Int.max) }
        let loaded = try input.load()
        let config = loaded.checkpoint.config
        let B = try probeBatchSize(config: config)
        let probe = try ProbeBatch(validation: loaded.corpus.validation, batchSize: B, sequenceLength: config.model.seq, seed: config.seed, bos: config.bos)
        let report = ProbeReport(model: try GPT(config: config.model, parameters: loaded.parameters, maxBatch: B), probe: probe,
                                 linearTaps: linearTaps || config.linearTaps)
        let members = [
            JSONMember("checkpoint", .string(input.checkpoint)),
            JSONMember("step", .int(Int64(loaded.checkpoint.step))),
            JSONMember("probe_batch", .int(Int64(B))),
            JSONMember("probe_loss", .double(report.loss)),
        ]
        try printResult(JSONValue.object(members + report.perTapMembers + report.summaryMembers + loaded.corpusChangeMembers).serialized())
    }
}
