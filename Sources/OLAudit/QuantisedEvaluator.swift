import OLCore
import OLData
import OLModel
import OLQuant
import OLTraining

/// The quantisation step after training: evaluates a run's `model.safetensors` in float and quantised
/// form on the run's fixed validation windows. A protocol so the audit does not depend on which OLQuant
/// entry point computes it.
public protocol QuantisedEvaluator: Sendable {
    /// Schemes this evaluator supports (SPEC §7 names).
    var schemes: Set<String> { get }
    func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity
}

/// The SPEC §7 schemes as OLQuant implements them, on the run's fixed validation windows with up to 64
/// windows per forward call (`QuantizedEvaluation.defaultBatch`, as in `summary.json` and `olab eval`).
/// `w8a8-static` calibrates on 8 batches of the train split.
public struct SchemeEvaluator: QuantisedEvaluator {
    public init() {}

    public var schemes: Set<String> { Set(QuantScheme.allCases.map(\.rawValue)) }

    public func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity {
        let checkpoint = try Checkpoint.read(path)
        let config = checkpoint.config
        let corpus = try config.loadCorpus()
        let windows = try EvaluationWindows(validation: corpus.validation, count: config.evalWindows, sequenceLength: config.model.seq)
        let parameters = FloatArena(layout: config.model.parameterLayout())
        checkpoint.loadParameters(into: parameters)
        let settings = try QuantSettings(parsing: request.scheme, bits: request.bits)
        let calibration = settings.scheme == .w8a8Static
            ? StaticCalibration(train: corpus.train, batches: 8, batchSize: config.batch, seed: 0, percentile: nil)
            : nil
        let result = try QuantizedEvaluation.evaluate(config: config.model, parameters: parameters, windows: windows,
                                                      settings: settings, batch: QuantizedEvaluation.defaultBatch(windows),
                                                      calibration: calibration)
        return QuantisedPerplexity(floatPPL: result.ppl, quantisedPPL: result.pplQuant)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
