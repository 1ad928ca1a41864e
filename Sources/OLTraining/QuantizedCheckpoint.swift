import OLCore
import OLData
import OLModel
import OLQuant

/// A quantised model file (`olab quantize`, OLQuant's Quantisation article, *Exporting a quantised model*): safetensors with the tensors of
/// `QuantizedTensors` and, in the metadata, `format` (`outlierlab-quantized`), `format_version`,
/// `harness_version`, the run's `config` (JSON text, so the same corpus and validation windows are found
/// again), `scheme`, `bits`, `settings` (the JSON `olab eval` prints: granularities, sites, eval batch,
/// calibration), the `source_checkpoint` and `source_step`, and the float and quantised perplexity it was
/// made with (`ppl`, `ppl_quant`, shortest round-trip decimal text), and `vocab`, the vocabulary size
/// (257 with a BOS token; a file without it is 256), and `alpha` for `w8a8-smooth` when it was given.
public struct QuantizedCheckpoint {
    public static let format = "outlierlab-quantized"
    public static let formatVersion = "1"

    public var config: TrainingConfig
    public var settings: QuantSettings
    public var tensors: [NamedTensor]
    public var metadata: [String: String]

    /// The file of `model`, quantised from `source` at `step`, with its evaluation `result`.
    public init(model: QuantizedModel, config: TrainingConfig, result: QuantEvaluationResult, source: String, step: Int) {
        self.config = config
        settings = model.settings
        tensors = QuantizedTensors.export(model)
        metadata = [
            "format": Self.format,
            "format_version": Self.formatVersion,
            "harness_version": Harness.version,
            "config": config.json.serialized(),
            "scheme": model.settings.scheme.rawValue,
            "bits": String(model.settings.bits),
            "settings": result.settingsJSON.serialized(),
            "source_checkpoint": source,
            "source_step": String(step),
            "ppl": "\(result.ppl)",
            "ppl_quant": "\(result.pplQuant)",
            "vocab": String(config.model.vocab),
        ]
        if let alpha = model.settings.alpha { metadata["alpha"] = "\(alpha)" }
    }

    public func write(to path: String) throws {
        try Safetensors.write(tensors, metadata: metadata, to: path)
    }

    /// Whether the safetensors file at `path` is a quantised model (false for a training checkpoint or
    /// anything unreadable, which the checkpoint reader then reports).
    public static func isQuantized(_ path: String) -> Bool {
        (try? Safetensors.read(path))?.metadata["format"] == format
    }

    /// Reads a quantised model file and checks its metadata; tensors are checked when the model is built.
    public static func read(_ path: String) throws -> QuantizedCheckpoint {
        let contents = try Safetensors.read(path)
        guard contents.metadata["format"] == format else {
            throw OutlierLabError("\(path): not a quantised OutlierLab model (metadata format is \(contents.metadata["format"] ?? "missing"))")
        }
        guard contents.metadata["format_version"] == formatVersion else {
            throw OutlierLabError("\(path): quantised model format version \(contents.metadata["format_version"] ?? "?") is not supported (this build reads \(formatVersion))")
        }
        guard let configText = contents.metadata["config"], let scheme = contents.metadata["scheme"],
              let bits = contents.metadata["bits"].flatMap({ Int($0) }) else {
            throw OutlierLabError("\(path): quantised model metadata needs config, scheme and bits")
        }
        let config = try TrainingConfig(json: try JSONValue.parse(configText, source: path + " config"), source: path + " config")
        try Checkpoint.requireVocabulary(contents.metadata, config: config, path: path)
        let alpha = try contents.metadata["alpha"].map { text in
            guard let value = Double(text) else { throw OutlierLabError("\(path): metadata alpha '\(text)' is not a number") }
            return value
        }
        let settings = try QuantSettings(parsing: scheme, bits: bits, alpha: alpha)
        return QuantizedCheckpoint(config: config, settings: settings, tensors: contents.tensors, metadata: contents.metadata)
    }

    private init(config: TrainingConfig, settings: QuantSettings, tensors: [NamedTensor], metadata: [String: String]) {
        self.config = config
        self.settings = settings
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The windows per forward call the file was evaluated with (the span of a per-tensor dynamic scale).
    public var evalBatch: Int? {
        metadata["settings"].flatMap { try? JSONValue.parse($0, source: "settings") }?["eval_batch"]?.intValue
    }

    /// Mean NLL of the quantised model on `windows`, `batch` windows per forward call, by the same
    /// `meanWindowLoss` that `olab eval --quant` uses.
    public func loss(windows: EvaluationWindows, batch: Int, source: String) throws -> Double {
        let rebuilt = try QuantizedTensors.model(from: tensors, config: config.model, settings: settings, maxBatch: batch, source: source)
        return try meanWindowLoss(model: rebuilt.model, windows: windows, batch: batch, transform: rebuilt.transform)
    }
}
