import ArgumentParser
import OLCore
import OLData
import OLQuant
import OLTraining

/// `olab quantize`: writes the quantised model whose perplexity `olab eval --quant` reports, as
/// safetensors (I8 weights, F32 scales and static ranges, the scheme in the metadata), after checking that
/// the written tensors give that perplexity again, bit for bit.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Export a checkpoint quantised with a scheme as safetensors (I8 weights, F32 scales) that PyTorch loads."
    )

    @Option(help: "Checkpoint file (model.safetensors or checkpoint.safetensors of a run).") var checkpoint: String
    @Option(help: "Quantisation scheme: w8a8-naive|w8a8-fine|w8a8-static|w8-only|a8-only|w8a8-smooth.") var scheme: String = "w8a8-naive"
    @Option(help: "Bit width: 8|6|4 (6- and 4-bit codes are stored as I8 too).") var bits: Int = 8
    @Option(help: "w8a8-smooth: SmoothQuant's migration strength alpha in [0, 1] (default 0.5).") var alpha: Double?
    @Option(help: "Output file (.safetensors): a new path, or an existing regular file with --overwrite.") var out: String
    @Flag(help: "Replace an existing regular file at --out.") var overwrite = false
    @Option(help: "Windows per forward call, the span of a per-tensor dynamic scale (default: all windows in one call).") var batch: Int?
    @OptionGroup var calibration: CalibrationOptions

    func run() throws {
        let settings = try QuantSettings(parsing: scheme, bits: bits, alpha: alpha)
        if let flag = calibration.givenFlags(for: settings.scheme).first {
            throw OutlierLabError("\(flag) applies only to --scheme w8a8-static\(flag == "--percentile" ? "" : " or w8a8-smooth")")
        }
        try OutputPolicy.checkFile(out, replace: overwrite)
        let loaded = try LoadedCheckpoint(path: checkpoint, allowCorpusChange: false)
        let config = loaded.checkpoint.config
        let windows = try EvaluationWindows(validation: loaded.corpus.validation, count: config.evalWindows, sequenceLength: config.model.seq, bos: config.bos)
        let batch = self.batch ?? windows.count
        guard batch > 0 else { throw OutlierLabError("--batch must be positive, got \(batch)") }
        let (result, calibration) = try self.calibration.evaluate(loaded, settings: settings, windows: windows, batch: batch)
        let model = try QuantizedModel(config: config.model, parameters: loaded.parameters, settings: settings, maxBatch: batch,
                                       calibration: calibration)
        let file = QuantizedCheckpoint(model: model, config: config, result: result, source: checkpoint, step: loaded.checkpoint.step)
        let reloaded = try file.loss(windows: windows, batch: batch, source: out)
        guard reloaded.bitPattern == result.quantLoss.bitPattern else {
            throw OutlierLabError("the exported tensors give loss \(reloaded), not the evaluated \(result.quantLoss); nothing written")
        }
        try OutputPolicy.checkFile(out, replace: overwrite)
        try file.write(to: out)
        print(JSONValue.object([
            "out": .string(out), "scheme": .string(settings.scheme.rawValue), "bits": .int(Int64(bits)),
            "ppl": .double(result.ppl), "ppl_quant": .double(result.pplQuant), "settings": result.settingsJSON,
        ]).serialized())
    }
}

/// The calibration flags of `w8a8-static` and `w8a8-smooth`, shared by `olab eval` and `olab quantize`.
struct CalibrationOptions: ParsableArguments {
    @Option(help: "w8a8-static, w8a8-smooth: calibration batches from the train split (default 8).") var calibrationBatches: Int?
    @Option(help: "w8a8-static, w8a8-smooth: calibration crop seed (default 0).") var calibrationSeed: UInt64?
    @Option(help: "w8a8-static: per-batch percentile range (e.g. 99.999) instead of min/max.") var percentile: Double?

    var batches: Int { calibrationBatches ?? 8 }

    /// The flags given on the command line, for refusing them with a scheme they do not apply to.
    var givenFlags: [String] {
        [("--calibration-batches", calibrationBatches != nil), ("--calibration-seed", calibrationSeed != nil),
         ("--percentile", percentile != nil)].filter(\.1).map(\.0)
    }

    /// The given flags that `scheme` does not use (`--percentile` is static's alone).
    func givenFlags(for scheme: QuantScheme?) -> [String] {
        switch scheme {
        case .w8a8Static?: []
        case .w8a8Smooth?: percentile != nil ? ["--percentile"] : []
        default: givenFlags
        }
    }

    func calibration(train: [UInt8], batchSize: Int, bos: Bool) -> StaticCalibration {
        StaticCalibration(train: train, batches: batches, batchSize: batchSize, seed: calibrationSeed ?? 0, percentile: percentile, bos: bos)
    }

    /// The quantised evaluation of `loaded` on `windows`, calibrated from its train split where the scheme
    /// is w8a8-static or w8a8-smooth; the calibration is returned too (`olab quantize` stores its ranges).
    func evaluate(_ loaded: LoadedCheckpoint, settings: QuantSettings, windows: EvaluationWindows,
                  batch: Int) throws -> (result: QuantEvaluationResult, calibration: StaticCalibration?) {
        let calibration = settings.scheme.calibrates ? calibration(train: loaded.corpus.train, batchSize: batch, bos: loaded.checkpoint.config.bos) : nil
        let result = try QuantizedEvaluation.evaluate(config: loaded.checkpoint.config.model, parameters: loaded.parameters, windows: windows,
                                                      settings: settings, batch: batch, calibration: calibration)
        return (result, calibration)
    }
}

/// `olab eval` on a file written by `olab quantize`: the quantised perplexity of the stored model on the
/// windows of its run, with the batch it was evaluated with unless `batch` says otherwise.
func evaluateQuantizedFile(_ path: String, windows count: Int?, batch: Int?) throws -> JSONValue {
    let file = try QuantizedCheckpoint.read(path)
    let corpus = try file.config.loadCorpus()
    let windows = try EvaluationWindows(validation: corpus.validation, count: count ?? file.config.evalWindows,
                                        sequenceLength: file.config.model.seq, bos: file.config.bos)
    let batch = batch ?? file.evalBatch ?? windows.count
    guard batch > 0 else { throw OutlierLabError("--batch must be positive, got \(batch)") }
    let loss = try file.loss(windows: windows, batch: batch, source: path)
    let recorded = file.metadata["ppl_quant"].flatMap(Double.init)
    return .object([
        "checkpoint": .string(path),
        "scheme": .string(file.settings.scheme.rawValue),
        "bits": .int(Int64(file.settings.bits)),
        "ppl_quant": .double(exp(loss)),
        "loss_quant": .double(loss),
        "recorded_ppl_quant": recorded.map(JSONValue.double) ?? .null,
        "matches_recorded": .bool(recorded.map { $0.bitPattern == exp(loss).bitPattern } ?? false),
        "windows": .int(Int64(windows.count)),
        "eval_batch": .int(Int64(batch)),
    ])
}
