import OLCore
import OLData
import OLModel
import OLQuant
import OLTraining

/// The quantisation step after training: evaluates a run's `model.safetensors` in float and quantised
/// form on the run's fixed validation windows. A protocol so the audit does not depend on which OLQuant
/// entry point computes it.
public protocol QuantisedEvaluator: Sendable {
    /// Schemes this evaluator supports (OLQuant's names).
    var schemes: Set<String> { get }
    func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity
    /// Every request on one checkpoint (an evaluator may share the float pass between them).
    func measure(checkpoint path: String, requests: [QuantRequest]) throws -> [QuantisedPerplexity]
}

extension QuantisedEvaluator {
    public func measure(checkpoint path: String, requests: [QuantRequest]) throws -> [QuantisedPerplexity] {
        try requests.map { try measure(checkpoint: path, request: $0) }
    }
}

/// The schemes as OLQuant implements them, on the run's fixed validation windows with up to 64
/// windows per forward call (`QuantizedEvaluation.defaultBatch`, as in `summary.json` and `olab eval`).
/// `w8a8-static` and `w8a8-smooth` (α = 0.5) calibrate on 8 batches of the train split. A request with a
/// site quantises only that linear layer's input ("layer.linear", e.g. "2.fc"); one with `planted`
/// evaluates the model with a planted outlier channel (`OutlierPlanting`, the positive control). Every result carries the paired 95 % bootstrap
/// interval of Δppl over the windows: the measurement's resolution.
public struct SchemeEvaluator: QuantisedEvaluator {
    public init() {}

    public var schemes: Set<String> { Set(QuantScheme.allCases.map(\.rawValue)) }

    public func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity {
        try measure(checkpoint: path, requests: [request])[0]
    }

    public func measure(checkpoint path: String, requests: [QuantRequest]) throws -> [QuantisedPerplexity] {
        let checkpoint = try Checkpoint.read(path)
        let config = checkpoint.config
        let corpus = try config.loadCorpus()
        let windows = try EvaluationWindows(validation: corpus.validation, count: config.evalWindows, sequenceLength: config.model.seq, bos: config.bos)
        let parameters = FloatArena(layout: config.model.parameterLayout())
        checkpoint.loadParameters(into: parameters)
        let batch = QuantizedEvaluation.defaultBatch(windows)
        let model = try GPT(config: config.model, parameters: parameters, maxBatch: batch)
        let float = try windowLosses(model: model, windows: windows, batch: batch)
        return try requests.map { request in
            let settings = try QuantSettings(parsing: request.scheme, bits: request.bits)
            let calibration = settings.scheme.calibrates
                ? StaticCalibration(train: corpus.train, batches: 8, batchSize: config.batch, seed: 0, percentile: nil, bos: config.bos)
                : nil
            let site = try request.site.map { try Self.site($0, layers: config.model.layers) }
            var evaluated = parameters
            if let factor = request.planted {
                // The planted model computes the same float function, so the float pass is shared.
                evaluated = parameters.clone()
                try OutlierPlanting.plant(evaluated, config: config.model, factor: Float(factor))
            }
            let result = try QuantizedEvaluation.evaluate(config: config.model, parameters: evaluated, windows: windows,
                                                          settings: settings, batch: batch, calibration: calibration,
                                                          float: float, onlySite: site)
            let delta = result.deltaPPLInterval
            let resolved = delta.lower.isFinite && delta.upper.isFinite && delta.lower <= delta.upper
            return QuantisedPerplexity(floatPPL: result.ppl, quantisedPPL: result.pplQuant, deltaInterval: resolved ? delta.lower...delta.upper : nil)
        }
    }

    /// The linear input named "layer.linear" (e.g. "2.fc"), or a one-line error.
    static func site(_ text: String, layers: Int) throws -> ActivationSite {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let layer = Int(parts[0]), (0..<layers).contains(layer), let linear = LinearLayer(rawValue: parts[1]) else {
            throw OutlierLabError("quantisation site '\(text)' must be 'layer.linear' with layer 0..<\(layers) and linear one of \(QuantRequest.linearSites.joined(separator: ", "))")
        }
        return .linearInput(layer: layer, linear: linear)
    }
}
