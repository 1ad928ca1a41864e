import ArgumentParser
import OLCore
import OLData
import OLModel
import OLQuant
import OLTraining

/// `olab eval`: float and (with --quant) quantised perplexity of a checkpoint on the fixed validation
/// windows of the corpus it was trained on (OLQuant's Quantisation article), as one JSON object on stdout.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Float and quantised perplexity of a checkpoint on its validation windows (one JSON object)."
    )

    @OptionGroup var input: CheckpointInput
    @Option(help: "Quantisation scheme: w8a8-naive|w8a8-fine|w8a8-static|w8-only|a8-only|w8a8-smooth (default: float only).") var quant: String?
    @Option(help: "Bit width of --quant: 8|6|4.") var bits: Int = 8
    @Option(help: "w8a8-smooth: SmoothQuant's migration strength alpha in [0, 1] (default 0.5).") var alpha: Double?
    @Option(help: "Validation windows (default: the run's eval_windows).") var windows: Int?
    @Option(help: "Windows per forward call, the span of a per-tensor dynamic scale (default: all windows, at most 64).") var batch: Int?
    @OptionGroup var calibrationOptions: CalibrationOptions

    /// The checked sizes of one evaluation.
    struct Sizes {
        var settings: QuantSettings?
        var windows: Int
        var batch: Int
        var calibrationBatches: Int
    }

    /// Every flag checked against the run's config and validation split before anything is allocated:
    /// the one path for sizes (`SizeLimits`), also what `olab fuzz --target flags` drives.
    func sizes(config: TrainingConfig, validationBytes: Int) throws -> Sizes {
        let settings = try quant.map { try QuantSettings(parsing: $0, bits: bits, alpha: alpha) }
        if quant == nil && bits != 8 { throw OutlierLabError("--bits needs --quant") }
        if quant == nil && alpha != nil { throw OutlierLabError("--alpha needs --quant w8a8-smooth") }
        // Flags of the calibrating schemes are refused with any other, as train refuses flags of another optimiser.
        if let flag = calibrationOptions.givenFlags(for: settings?.scheme).first {
            throw OutlierLabError("\(flag) applies only to --quant w8a8-static\(flag == "--percentile" ? "" : " or w8a8-smooth")")
        }
        if let windows { _ = try SizeLimits.count(windows, "--windows", atMost: Int.max) }
        if let batch { _ = try SizeLimits.count(batch, "--batch", atMost: Int.max) }
        let calibrationBatches = try SizeLimits.count(calibrationOptions.batches, "--calibration-batches", atMost: SizeLimits.maximumCalibrationBatches)
        let T = config.model.seq
        let available = EvaluationWindows.maximumCount(validationBytes: validationBytes, sequenceLength: T)
        let windowCount = windows ?? config.evalWindows
        guard windowCount <= available else {
            throw OutlierLabError("--windows \(windowCount): the validation split of \(validationBytes) bytes holds at most \(available) windows of \(T) tokens")
        }
        let batch = try SizeLimits.count(self.batch ?? min(windowCount, QuantizedEvaluation.maximumDefaultBatch), "--batch", atMost: windowCount)
        let calibrationBytes = settings?.scheme.calibrates == true ? SizeLimits.product(calibrationBatches, batch, T, 8) : 0
        try SizeLimits.requireMemory(SizeLimits.sum(SizeLimits.modelBytes(config.model, rows: batch, parameterCopies: settings != nil ? 2 : 1),
                                                    SizeLimits.product(batch, T, 16), calibrationBytes),
                                     source: "olab eval", what: "evaluating \(batch) windows of \(T) tokens per call",
                                     remedy: "pass a smaller --batch\(settings?.scheme.calibrates == true ? " or --calibration-batches" : "")")
        return Sizes(settings: settings, windows: windowCount, batch: batch, calibrationBatches: calibrationBatches)
    }

    func run() throws {
        let checkpoint = input.checkpoint
        if QuantizedCheckpoint.isQuantized(checkpoint) {
            guard quant == nil else { throw OutlierLabError("\(checkpoint) is already quantised; --quant applies to float checkpoints") }
            try printResult(try evaluateQuantizedFile(checkpoint, windows: windows, batch: batch).serialized())
            return
        }
        let loaded = try input.load()
        let config = loaded.checkpoint.config
        let sizes = try sizes(config: config, validationBytes: loaded.corpus.validation.count)
        let (settings, batch) = (sizes.settings, sizes.batch)
        let windows = try EvaluationWindows(validation: loaded.corpus.validation, count: sizes.windows, sequenceLength: config.model.seq, bos: config.bos)
        var members = [JSONMember("checkpoint", .string(checkpoint)), JSONMember("step", .int(Int64(loaded.checkpoint.step)))]
        if let settings {
            let result = try calibrationOptions.evaluate(loaded, settings: settings, windows: windows, batch: batch).result
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
        try printResult(JSONValue.object(members + loaded.corpusChangeMembers).serialized())
    }
}

/// `--checkpoint` and `--allow-corpus-change`, shared by `olab eval` and `olab metrics`: which checkpoint to
/// measure, and whether to measure it on a corpus that changed since its run trained.
struct CheckpointInput: ParsableArguments {
    @Option(help: "Checkpoint file (model.safetensors or checkpoint.safetensors of a run; olab eval also reads a file of olab quantize).") var checkpoint: String
    @Flag(help: "Measure even if the corpus changed since the run trained on it (the change is reported in the result).") var allowCorpusChange = false

    func load() throws -> LoadedCheckpoint { try LoadedCheckpoint(path: checkpoint, allowCorpusChange: allowCorpusChange) }
}

/// A checkpoint with its parameters in an arena and the corpus its run trained on, rebuilt the way
/// `Trainer` builds it (synthetic corpora are regenerated with seed 0 and the run's size). The corpus
/// must still have the SHA-256 the checkpoint recorded, unless `allowCorpusChange`; the change is then
/// part of the result (`corpusChangeMembers`).
struct LoadedCheckpoint {
    let checkpoint: Checkpoint
    let parameters: FloatArena
    let corpus: ByteCorpus
    /// `corpus_change` with the recorded and the current digest, when an allowed change was found.
    let corpusChangeMembers: [JSONMember]

    init(path: String, allowCorpusChange: Bool) throws {
        guard FilePath.exists(path) else { throw OutlierLabError("\(path): no such checkpoint file") }
        checkpoint = try Checkpoint.read(path)
        let config = checkpoint.config
        corpus = try config.loadCorpus()
        let actual = corpus.sha256
        if actual != checkpoint.corpusSHA256 {
            guard allowCorpusChange else {
                throw OutlierLabError("\(path): the corpus \(config.corpus) has changed since this checkpoint's run trained on it (SHA-256 \(checkpoint.corpusSHA256.prefix(12))… recorded, \(actual.prefix(12))… now); restore it, or pass --allow-corpus-change to measure on the new data")
            }
            corpusChangeMembers = [JSONMember("corpus_change", .object([
                JSONMember("recorded_sha256", .string(checkpoint.corpusSHA256)), JSONMember("current_sha256", .string(actual)),
            ]))]
        } else {
            corpusChangeMembers = []
        }
        parameters = FloatArena(layout: config.model.parameterLayout())
        checkpoint.loadParameters(into: parameters)
    }
}
