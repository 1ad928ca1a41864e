import OLCore
import OLTraining

/// Float and quantised perplexity measured along the way, at a run's `eval_at` steps (issue 28: the
/// quantisation damage grows with the outlier features, so one number at the end hides when it appears).
/// Written to `evaluations.jsonl` in the run directory, one JSON object per point in step order:
///
/// ```json
/// {"step": 400, "tokens": 409600, "val_loss": 1.39, "val_ppl": 4.01,
///  "quantised": [{"scheme": "w8a8-naive", "bits": 8, "float_ppl": 4.01, "quantised_ppl": 4.02,
///                 "delta_ppl_ci95": [0.004, 0.011]}]}
/// ```
/// `tokens` counts the training tokens seen (step · batch · seq); `val_loss` and `val_ppl` are the
/// trainer's own validation numbers (as in `summary.json`); each `quantised` entry is the run's quantised
/// evaluation file format (`quant-<scheme>-<bits>bit.json`) measured on the checkpoint of that step.
public struct EvaluationPoint: Sendable, Equatable {
    public var step: Int
    public var tokens: Int
    public var validationLoss: Double
    public var validationPPL: Double
    public var quantised: [QuantRequest: QuantisedPerplexity]

    public init(step: Int, tokens: Int, validationLoss: Double, validationPPL: Double, quantised: [QuantRequest: QuantisedPerplexity]) {
        self.step = step
        self.tokens = tokens
        self.validationLoss = validationLoss
        self.validationPPL = validationPPL
        self.quantised = quantised
    }

    public static let fileName = "evaluations.jsonl"

    public var json: JSONValue {
        .object([
            JSONMember("step", .int(Int64(step))), JSONMember("tokens", .int(Int64(tokens))),
            JSONMember("val_loss", .double(validationLoss)), JSONMember("val_ppl", .double(validationPPL)),
            JSONMember("quantised", .array(quantised.keys.sorted().map { .object(($0.json.objectMembers ?? []) + quantised[$0]!.members) })),
        ])
    }

    init(json: JSONValue, source: String) throws {
        guard let step = json["step"]?.intValue, let tokens = json["tokens"]?.intValue, let loss = json["val_loss"]?.doubleValue,
              let ppl = json["val_ppl"]?.doubleValue, let entries = json["quantised"]?.arrayValue else {
            throw OutlierLabError("\(source): every evaluation point needs step, tokens, val_loss, val_ppl and quantised")
        }
        var quantised: [QuantRequest: QuantisedPerplexity] = [:]
        for entry in entries {
            guard let scheme = entry["scheme"]?.stringValue, let bits = entry["bits"]?.intValue else {
                throw OutlierLabError("\(source): every quantised entry needs a scheme and bits")
            }
            quantised[QuantRequest(scheme: scheme, bits: Int(bits), site: entry["site"]?.stringValue)] = try QuantisedPerplexity(json: entry, source: source)
        }
        self.init(step: Int(step), tokens: Int(tokens), validationLoss: loss, validationPPL: ppl, quantised: quantised)
    }

    /// The points recorded in `directory` (none without the file), in step order.
    public static func load(_ directory: String) throws -> [EvaluationPoint] {
        let path = directory + "/" + fileName
        guard FilePath.exists(path) else { return [] }
        return try FileBytes.readText(path).split(separator: "\n").map { try EvaluationPoint(json: try JSONValue.parse(String($0), source: path), source: path) }
    }

    /// Rewrites the whole file atomically: a kill leaves the previous points or the new ones, never half a line.
    static func write(_ points: [EvaluationPoint], in directory: String) throws {
        try AtomicFile.write(points.map { $0.json.serialized() + "\n" }.joined(), to: directory + "/" + fileName)
    }
}

extension RunExecution {
    /// Trains the run to its end, stopping at every `eval_at` step not in `evaluations.jsonl` yet to
    /// measure it on the checkpoint written there. Stopping writes a checkpoint and nothing else, and
    /// the trainer continues in memory, so the training bits are those of a run without `eval_at`. A
    /// resumed run starts after the last recorded point: the checkpoint of a point is written before its
    /// measurement, so a kill between the two resumes at that step and measures it then.
    static func trainMeasuringAlongTheWay(
        _ trainer: Trainer, spec: RunSpec, evaluator: any QuantisedEvaluator,
        announce: (String) -> Void, progress: @escaping (TrainingProgress) -> Void
    ) throws {
        let every = max(1, spec.config.steps / 4)
        let report: (TrainingProgress) -> Void = { if $0.step % every == 0 { progress($0) } }
        var points = try EvaluationPoint.load(trainer.directory)
        let recorded = Set(points.map(\.step))
        for step in spec.config.evalAt where !recorded.contains(step) {
            guard trainer.step <= step else {
                throw OutlierLabError("\(trainer.directory): the evaluation at step \(step) is missing but the run resumed at step \(trainer.step); delete the run directory to recompute it")
            }
            try trainer.run(stopAfter: step, progress: report)
            guard trainer.step == step else { return }
            let validation = try trainer.validationLosses()
            let requests = spec.quantisations
            let results = try evaluator.measure(checkpoint: trainer.directory + "/" + Trainer.checkpointName, requests: requests)
            let point = EvaluationPoint(step: step, tokens: step * spec.config.batch * spec.config.model.seq, validationLoss: validation.mean,
                                        validationPPL: validation.perplexity, quantised: Dictionary(uniqueKeysWithValues: zip(requests, results)))
            points = (points + [point]).sorted { $0.step < $1.step }
            try EvaluationPoint.write(points, in: trainer.directory)
            announce("step \(step) (\(point.tokens) tokens): ppl \(formatNumber(point.validationPPL))"
                     + requests.map { " \($0.label) \(formatNumber(point.quantised[$0]!.quantisedPPL))" }.joined())
        }
        try trainer.run(progress: report)
    }
}
