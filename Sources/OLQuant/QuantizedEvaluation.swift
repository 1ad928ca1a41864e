import OLCore
import OLData
import OLMetrics
import OLModel

/// Token cross-entropy of a model over the evaluation windows.
public struct WindowLosses: Sendable, Equatable {
    /// Mean NLL over every scored token (nats/token), token losses summed in Double in window order.
    public let mean: Double
    /// Mean NLL of each window, in window order: what a bootstrap over windows resamples.
    public let perWindow: [Double]

    /// exp(mean NLL).
    public var perplexity: Double { exp(mean) }

    /// The 95 % bootstrap interval of the perplexity over windows (see `BootstrapInterval`).
    public var perplexityInterval: BootstrapInterval {
        BootstrapInterval(series: [perWindow]) { exp($0[0]) }
    }
}

/// Token cross-entropy of `model` over every evaluation window, `batch` windows per forward call (the last
/// call holds the rest); the mean sums token losses in Double in window order, the same sum as
/// `Trainer.validationLoss`. `transform`, when given, is installed on every call.
public func windowLosses(model: GPT, windows: EvaluationWindows, batch: Int, transform: ActivationTransform? = nil) throws -> WindowLosses {
    let T = windows.sequenceLength
    guard batch > 0 else { throw OutlierLabError("evaluation batch must be positive, got \(batch)") }
    guard batch <= model.maxBatch else { throw OutlierLabError("evaluation batch \(batch) exceeds the model's batch capacity \(model.maxBatch)") }
    guard T <= model.config.seq else {
        throw OutlierLabError("evaluation windows of \(T) tokens are longer than the model's context \(model.config.seq)")
    }
    var inputs = [Int32](repeating: 0, count: batch * T)
    var targets = [Int32](repeating: 0, count: batch * T)
    var total = 0.0
    var perWindow = [Double](repeating: 0, count: windows.count)
    var first = 0
    while first < windows.count {
        let rows = min(batch, windows.count - first)
        inputs.withUnsafeMutableBufferPointer { x in
            targets.withUnsafeMutableBufferPointer { y in windows.fill(first: first, rows: rows, inputs: x, targets: y) }
        }
        inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in _ = model.forward(tokens: x, targets: y, B: rows, T: T, transform: transform) }
        }
        let losses = model.tokenLosses
        for row in 0..<rows {
            var window = 0.0
            for t in 0..<T {
                total += Double(losses[row * T + t])
                window += Double(losses[row * T + t])
            }
            perWindow[first + row] = window / Double(T)
        }
        first += rows
    }
    return WindowLosses(mean: total / Double(windows.tokenCount), perWindow: perWindow)
}

/// The mean of `windowLosses`.
public func meanWindowLoss(model: GPT, windows: EvaluationWindows, batch: Int, transform: ActivationTransform? = nil) throws -> Double {
    try windowLosses(model: model, windows: windows, batch: batch, transform: transform).mean
}

/// Float and quantised perplexity of one model on the fixed validation windows (<doc:Quantisation>):
/// ppl = exp(mean NLL), Δ = ppl_quant − ppl, ratio = ppl_quant / ppl.
public struct QuantEvaluationResult: Sendable, Equatable {
    public let settings: QuantSettings
    /// Windows per forward call: the span of a dynamic per-tensor activation scale.
    public let batch: Int
    public let windows: Int
    public let sequenceLength: Int
    /// Per-window and mean NLL (nats/token) of the float and the quantised model on the same windows.
    public let float: WindowLosses
    public let quant: WindowLosses
    /// Static calibration options (`w8a8-static` only).
    public let calibration: StaticCalibration?
    /// Names of the activation sites quantised, in forward order.
    public let quantisedSites: [String]

    public var loss: Double { float.mean }
    public var quantLoss: Double { quant.mean }
    public var ppl: Double { exp(loss) }
    public var pplQuant: Double { exp(quantLoss) }
    public var deltaPPL: Double { pplQuant - ppl }
    public var ratio: Double { pplQuant / ppl }

    /// 95 % bootstrap intervals over windows of ppl, ppl_quant and (paired: the same resampled windows for
    /// both models) Δppl: the resolution of this evaluation.
    public var pplInterval: BootstrapInterval { float.perplexityInterval }
    public var pplQuantInterval: BootstrapInterval { quant.perplexityInterval }
    public var deltaPPLInterval: BootstrapInterval {
        BootstrapInterval(series: [float.perWindow, quant.perWindow]) { exp($0[1]) - exp($0[0]) }
    }

    /// The scheme's settings: granularities, sites, bits, evaluation batch and (static) calibration.
    public var settingsJSON: JSONValue {
        let scheme = settings.scheme
        var members: [JSONMember] = [
            JSONMember("weights", scheme.weights.map { .string($0.name) } ?? "float32"),
            JSONMember("activations", scheme.activations.map { .string($0.name) } ?? "float32"),
            JSONMember("weight_tensors", scheme.weights == nil ? .array([]) : ["qkv", "attn_proj", "fc", "mlp_proj"]),
            JSONMember("activation_sites", .array(activationKinds.map(JSONValue.string))),
            JSONMember("quantised_sites", .array(quantisedSites.map(JSONValue.string))),
            JSONMember("float32", .array(floatKinds.map(JSONValue.string))),
            JSONMember("rounding", "half-to-even"),
            JSONMember("eval_batch", .int(Int64(batch))),
            JSONMember("dynamic_scale_span", scheme.activations == .perTensorDynamic ? "forward-call" : .null),
            JSONMember("windows", .int(Int64(windows))),
            JSONMember("seq", .int(Int64(sequenceLength))),
            JSONMember("tokens", .int(Int64(windows * sequenceLength))),
        ]
        if scheme.weights == .perTensorMSEClipped {
            members.append(JSONMember("weight_clipping_candidates", .int(Int64(clippingSearchCandidates))))
            members.append(JSONMember("weight_clipping_grid", .string("k·(absmax + \(clippingSearchMargin))/\(clippingSearchCandidates), k = 1…\(clippingSearchCandidates), first minimum of the squared error")))
        }
        if let calibration { members.append(JSONMember("calibration", calibration.json)) }
        if scheme == .w8a8Smooth {
            members.append(JSONMember("smoothquant_alpha", .double(settings.resolvedAlpha)))
            members.append(JSONMember("smoothquant_statistic", "max |x| per input channel over the calibration batches"))
        }
        return .object(members)
    }

    /// Every kind of activation site the model has, in forward order.
    static let allActivationKinds = [
        "embedding_sum", "linear_input", "linear_output", "qk_norm_output", "attention_scores", "attention_probabilities",
        "norm_output", "residual", "final_norm_output",
    ]

    /// The kinds of activation sites this scheme quantises (`linear_output` of fc is after its activation).
    var activationKinds: [String] {
        switch settings.scheme.activations {
        case nil: []
        case .perTensorDynamic, .perTokenDynamic: ["linear_input"]
        case .staticAsymmetric: Self.allActivationKinds
        }
    }

    /// What stays float32: the parameters outside the four linear weights (norm parameters include the
    /// QK-norm scales; β is one scalar per branch, which a deployment folds into a scale), the linear
    /// weights too without a weight scheme, the softmax's own arithmetic, and every activation kind the
    /// scheme does not quantise.
    var floatKinds: [String] {
        let weights = settings.scheme.weights == nil ? ["linear_weights"] : []
        let parameters = ["embedding_tables", "lm_head", "norm_parameters", "branch_weights", "softmax_arithmetic"]
        return weights + parameters + Self.allActivationKinds.filter { !activationKinds.contains($0) }
    }

    /// `{ppl, ppl_ci95, ppl_quant, ppl_quant_ci95, delta_ppl, delta_ppl_ci95, ratio, resolution, scheme, bits,
    /// settings}`; a non-finite value is written as null.
    public var json: JSONValue {
        let delta = deltaPPLInterval
        return .object([
            "ppl": .double(ppl),
            "ppl_ci95": pplInterval.json,
            "ppl_quant": .double(pplQuant),
            "ppl_quant_ci95": pplQuantInterval.json,
            "delta_ppl": .double(deltaPPL),
            "delta_ppl_ci95": delta.json,
            "ratio": .double(ratio),
            "resolution": delta.methodJSON,
            "scheme": .string(settings.scheme.rawValue),
            "bits": .int(Int64(settings.bits)),
            "settings": settingsJSON,
        ])
    }
}

/// Evaluates a model and its quantised copy on the same windows.
public enum QuantizedEvaluation {
    /// Windows per forward call by default: all of them up to 64, so a dynamic per-tensor scale spans at
    /// least 64 windows (4096 tokens at T = 64) while the activation memory of one call stays bounded.
    public static func defaultBatch(_ windows: EvaluationWindows) -> Int { min(windows.count, maximumDefaultBatch) }
    /// The largest default batch: a dynamic per-tensor scale spans at least this many windows while a
    /// call's memory stays bounded.
    public static let maximumDefaultBatch = 64

    /// Float and quantised perplexity of `parameters` (only read; the quantised model uses a clone).
    /// `batch`: windows per forward call (and the span of per-tensor dynamic scales). `calibration` is
    /// required by `w8a8-static`. Deterministic: same inputs ⇒ same bits.
    public static func evaluate(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows,
                                settings: QuantSettings, batch: Int, calibration: StaticCalibration? = nil) throws -> QuantEvaluationResult {
        let model = try GPT(config: config, parameters: parameters, maxBatch: batch)
        let float = try windowLosses(model: model, windows: windows, batch: batch)
        return try evaluate(config: config, parameters: parameters, windows: windows, settings: settings, batch: batch,
                            calibration: calibration, float: float)
    }

    /// As above with the float losses already known (e.g. when sweeping schemes).
    public static func evaluate(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows,
                                settings: QuantSettings, batch: Int, calibration: StaticCalibration?,
                                float: WindowLosses, onlySite: ActivationSite? = nil) throws -> QuantEvaluationResult {
        let quantized = try QuantizedModel(config: config, parameters: parameters, settings: settings, maxBatch: batch,
                                           calibration: calibration, onlySite: onlySite)
        let quant = try windowLosses(model: quantized.model, windows: windows, batch: batch, transform: quantized.transform)
        return QuantEvaluationResult(settings: settings, batch: batch, windows: windows.count, sequenceLength: windows.sequenceLength,
                                     float: float, quant: quant, calibration: quantized.calibration,
                                     quantisedSites: quantized.activationSites.map(\.name))
    }
}

extension QuantSettings {
    /// The default scheme of summaries: `w8a8-naive` at 8 bits.
    public static let naive8 = try! QuantSettings(scheme: .w8a8Naive, bits: 8)
}
