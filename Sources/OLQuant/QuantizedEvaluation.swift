#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore
import OLData
import OLModel

/// Mean token cross-entropy of `model` over every evaluation window, `batch` windows per forward call
/// (the last call holds the rest), token losses summed in Double in window order — the same sum as
/// `Trainer.validationLoss`. `transform`, when given, is installed on every call.
public func meanWindowLoss(model: GPT, windows: EvaluationWindows, batch: Int, transform: ActivationTransform? = nil) throws -> Double {
    let T = windows.sequenceLength
    guard batch > 0 else { throw OutlierLabError("evaluation batch must be positive, got \(batch)") }
    guard batch <= model.maxBatch else { throw OutlierLabError("evaluation batch \(batch) exceeds the model's batch capacity \(model.maxBatch)") }
    guard T <= model.config.seq else {
        throw OutlierLabError("evaluation windows of \(T) tokens are longer than the model's context \(model.config.seq)")
    }
    var inputs = [Int32](repeating: 0, count: batch * T)
    var targets = [Int32](repeating: 0, count: batch * T)
    var total = 0.0
    var first = 0
    while first < windows.count {
        let rows = min(batch, windows.count - first)
        inputs.withUnsafeMutableBufferPointer { x in
            targets.withUnsafeMutableBufferPointer { y in windows.fill(first: first, rows: rows, inputs: x, targets: y) }
        }
        inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in _ = model.forward(tokens: x, targets: y, B: rows, T: T, transform: transform) }
        }
        for value in model.tokenLosses { total += Double(value) }
        first += rows
    }
    return total / Double(windows.count * T)
}

/// Float and quantised perplexity of one model on the fixed validation windows (SPEC §7):
/// ppl = exp(mean NLL), Δ = ppl_quant − ppl, ratio = ppl_quant / ppl.
public struct QuantEvaluationResult: Sendable, Equatable {
    public let settings: QuantSettings
    /// Windows per forward call: the span of a dynamic per-tensor activation scale.
    public let batch: Int
    public let windows: Int
    public let sequenceLength: Int
    /// Mean NLL (nats/token) of the float and the quantised model.
    public let loss: Double
    public let quantLoss: Double
    /// Static calibration options (`w8a8-static` only).
    public let calibration: StaticCalibration?

    public var ppl: Double { exp(loss) }
    public var pplQuant: Double { exp(quantLoss) }
    public var deltaPPL: Double { pplQuant - ppl }
    public var ratio: Double { pplQuant / ppl }

    /// The scheme's settings: granularities, sites, bits, evaluation batch and (static) calibration.
    public var settingsJSON: JSONValue {
        let scheme = settings.scheme
        var members: [JSONMember] = [
            JSONMember("weights", scheme.weights.map { .string($0.name) } ?? "float32"),
            JSONMember("activations", scheme.activations.map { .string($0.name) } ?? "float32"),
            JSONMember("weight_tensors", scheme.weights == nil ? .array([]) : ["qkv", "attn_proj", "fc", "mlp_proj"]),
            JSONMember("activation_sites", activationSites),
            JSONMember("float32", ["embeddings", "lm_head", "norm_parameters", "softmax", "attention_scores", "attention_probabilities"]),
            JSONMember("rounding", "half-to-even"),
            JSONMember("eval_batch", .int(Int64(batch))),
            JSONMember("dynamic_scale_span", scheme.activations == .perTensorDynamic ? "forward-call" : .null),
            JSONMember("windows", .int(Int64(windows))),
            JSONMember("seq", .int(Int64(sequenceLength))),
        ]
        if scheme.weights == .perTensorMSEClipped { members.append(JSONMember("weight_clipping_candidates", 100)) }
        if let calibration { members.append(JSONMember("calibration", calibration.json)) }
        return .object(members)
    }

    private var activationSites: JSONValue {
        switch settings.scheme.activations {
        case nil: .array([])
        case .perTensorDynamic, .perTokenDynamic: ["linear_input"]
        case .staticAsymmetric: ["linear_input", "linear_output", "norm_output", "residual"]
        }
    }

    /// `{ppl, ppl_quant, delta_ppl, ratio, scheme, bits, settings}`; a non-finite value is written as null.
    public var json: JSONValue {
        .object([
            "ppl": .double(ppl),
            "ppl_quant": .double(pplQuant),
            "delta_ppl": .double(deltaPPL),
            "ratio": .double(ratio),
            "scheme": .string(settings.scheme.rawValue),
            "bits": .int(Int64(settings.bits)),
            "settings": settingsJSON,
        ])
    }
}

/// Evaluates a model and its quantised copy on the same windows.
public enum QuantizedEvaluation {
    /// Float and quantised perplexity of `parameters` (only read; the quantised model uses a clone).
    /// `batch`: windows per forward call (and the span of per-tensor dynamic scales). `calibration` is
    /// required by `w8a8-static`. Deterministic: same inputs ⇒ same bits.
    public static func evaluate(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows,
                                settings: QuantSettings, batch: Int, calibration: StaticCalibration? = nil) throws -> QuantEvaluationResult {
        let float = try GPT(config: config, parameters: parameters, maxBatch: batch)
        let loss = try meanWindowLoss(model: float, windows: windows, batch: batch)
        return try evaluate(config: config, parameters: parameters, windows: windows, settings: settings, batch: batch,
                            calibration: calibration, floatLoss: loss)
    }

    /// As above with the float loss already known (e.g. when sweeping schemes).
    public static func evaluate(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows,
                                settings: QuantSettings, batch: Int, calibration: StaticCalibration?,
                                floatLoss: Double) throws -> QuantEvaluationResult {
        let quantized = try QuantizedModel(config: config, parameters: parameters, settings: settings, maxBatch: batch,
                                           calibration: calibration)
        let quantLoss = try meanWindowLoss(model: quantized.model, windows: windows, batch: batch, transform: quantized.transform)
        return QuantEvaluationResult(settings: settings, batch: batch, windows: windows.count, sequenceLength: windows.sequenceLength,
                                     loss: floatLoss, quantLoss: quantLoss, calibration: quantized.calibration)
    }
}

/// Float and quantised perplexity, for the trainer's summary (`w8a8-naive`, 8 bits, by default):
/// `quantisedPerplexity(config: config.model, parameters: model.parameters, windows: windows,
/// settings: .naive8, batch: config.batch)`.
public func quantisedPerplexity(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows,
                                settings: QuantSettings = .naive8, batch: Int,
                                calibration: StaticCalibration? = nil) throws -> QuantEvaluationResult {
    try QuantizedEvaluation.evaluate(config: config, parameters: parameters, windows: windows, settings: settings,
                                     batch: batch, calibration: calibration)
}

extension QuantSettings {
    /// The default scheme of summaries: `w8a8-naive` at 8 bits.
    public static let naive8 = try! QuantSettings(scheme: .w8a8Naive, bits: 8)
}
