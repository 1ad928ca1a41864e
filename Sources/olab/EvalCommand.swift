#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import ArgumentParser
import OLCore
import OLData
import OLModel
import OLQuant
import OLTraining

/// `olab eval`: float and (with --quant) quantised perplexity of a checkpoint on the fixed validation
/// windows of the corpus it was trained on (SPEC §7), as one JSON object on stdout.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Float and quantised perplexity of a checkpoint on its validation windows (one JSON object)."
    )

    @Option(help: "Checkpoint file (model.safetensors or checkpoint.safetensors of a run, or a file of olab quantize).") var checkpoint: String
    @Option(help: "Quantisation scheme: w8a8-naive|w8a8-fine|w8a8-static|w8-only|a8-only (default: float only).") var quant: String?
    @Option(help: "Bit width of --quant: 8|6|4.") var bits: Int = 8
    @Option(help: "Validation windows (default: the run's eval_windows).") var windows: Int?
    @Option(help: "Windows per forward call, the span of a per-tensor dynamic scale (default: all windows, at most 64).") var batch: Int?
    @OptionGroup var calibrationOptions: CalibrationOptions

    func run() throws {
        if QuantizedCheckpoint.isQuantized(checkpoint) {
            guard quant == nil else { throw OutlierLabError("\(checkpoint) is already quantised; --quant applies to float checkpoints") }
            print(try evaluateQuantizedFile(checkpoint, windows: windows, batch: batch).serialized())
            return
        }
        let settings = try quant.map { try QuantSettings(parsing: $0, bits: bits) }
        if quant == nil && bits != 8 { throw OutlierLabError("--bits needs --quant") }
        let loaded = try LoadedCheckpoint(path: checkpoint)
        let config = loaded.checkpoint.config
        let windows = try EvaluationWindows(validation: loaded.corpus.validation, count: self.windows ?? config.evalWindows,
                                            sequenceLength: config.model.seq)
        let batch = self.batch ?? QuantizedEvaluation.defaultBatch(windows)
        guard batch > 0 else { throw OutlierLabError("--batch must be positive, got \(batch)") }
        var members = [JSONMember("checkpoint", .string(checkpoint)), JSONMember("step", .int(Int64(loaded.checkpoint.step)))]
        if let settings {
            let calibration = settings.scheme == .w8a8Static ? calibrationOptions.calibration(train: loaded.corpus.train, batchSize: batch) : nil
            let result = try QuantizedEvaluation.evaluate(config: config.model, parameters: loaded.parameters, windows: windows,
                                                          settings: settings, batch: batch, calibration: calibration)
            members += result.json.objectMembers!
            members.insert(JSONMember("loss", .double(result.loss)), at: 3)
        } else {
            let model = try GPT(config: config.model, parameters: loaded.parameters, maxBatch: batch)
            let losses = try windowLosses(model: model, windows: windows, batch: batch)
            let interval = losses.perplexityInterval
            members += [
                JSONMember("ppl", .double(losses.perplexity)),
                JSONMember("ppl_ci95", interval.json),
                JSONMember("loss", .double(losses.mean)),
                JSONMember("resolution", interval.methodJSON),
                JSONMember("settings", .object(["eval_batch": .int(Int64(batch)), "windows": .int(Int64(windows.count)),
                                                "seq": .int(Int64(windows.sequenceLength)),
                                                "tokens": .int(Int64(windows.tokenCount))])),
            ]
        }
        print(JSONValue.object(members).serialized())
    }
}

/// A checkpoint with its parameters in an arena and the corpus its run trained on, rebuilt the way
/// `Trainer` builds it (synthetic corpora are regenerated with seed 0 and the run's size).
struct LoadedCheckpoint {
    let checkpoint: Checkpoint
    let parameters: FloatArena
    let corpus: ByteCorpus

    init(path: String) throws {
        guard FilePath.exists(path) else { throw OutlierLabError("\(path): no such checkpoint file") }
        checkpoint = try Checkpoint.read(path)
        let config = checkpoint.config
        parameters = FloatArena(layout: config.model.parameterLayout())
        checkpoint.loadParameters(into: parameters)
        corpus = try config.loadCorpus()
    }
}
