import Foundation
import OLCore
import OLTraining

/// How one planned run ended.
public enum RunOutcome: Sendable {
    case finished(RunRecord, cached: Bool)
    /// Training stopped (non-finite loss or gradient) or evaluation failed; the message says where.
    case failed(String)
}

/// Executes an audit plan one run at a time. Each run's result depends only on its config, so order does
/// not matter; finished runs are cached in `<out>/runs/<key>/` and an interrupted run resumes from its
/// last checkpoint, so rerunning an audit redoes nothing that finished.
public final class AuditRunner {
    public let plan: AuditPlan
    public let outDirectory: String
    public let evaluator: any QuantisedEvaluator
    private let say: (String) -> Void

    /// Prints one progress line and flushes it, so logs redirected to a file show progress as it happens.
    public static func printLine(_ line: String) {
        print(line)
        fflush(nil)  // nil flushes every C stream; naming `stdout` is not concurrency-safe in Swift 6
    }

    /// Marks a run whose training or evaluation failed; its message is cached like a result.
    public static let failureName = "failed.json"

    public init(plan: AuditPlan, outDirectory: String, evaluator: any QuantisedEvaluator = SchemeEvaluator(),
                say: @escaping (String) -> Void = AuditRunner.printLine) {
        self.plan = plan
        self.outDirectory = outDirectory
        self.evaluator = evaluator
        self.say = say
    }

    /// Runs (or loads) every planned run; returns outcomes by run key.
    public func run() throws -> [String: RunOutcome] {
        var outcomes: [String: RunOutcome] = [:]
        let total = plan.runs.count
        var remainingEstimate = plan.estimatedSeconds
        var spentSeconds = 0.0, spentEstimate = 0.0
        let started = monotonic()
        for (index, planned) in plan.runs.enumerated() {
            let directory = outDirectory + "/" + planned.relativeDirectory
            let more = planned.uses.count > 1 ? " and \(planned.uses.count - 1) more" : ""
            let header = "[audit] run \(index + 1)/\(total) \(planned.key.prefix(12)) (\(planned.uses[0])\(more))"
            let runStarted = monotonic()
            let calibration = spentEstimate > 0 ? spentSeconds / spentEstimate : 1
            let outcome = try execute(planned, directory: directory) { progress in
                let runFraction = Double(progress.step) / Double(max(progress.steps, 1))
                let runLeft = progress.elapsedSeconds / max(runFraction, 1e-9) * (1 - runFraction)
                let auditLeft = runLeft + (remainingEstimate - planned.estimatedSeconds) * calibration
                self.say("\(header): step \(progress.step)/\(progress.steps) loss \(formatNumber(progress.loss)), \(Int(progress.tokensPerSecond)) tok/s, ETA run \(duration(runLeft)), audit \(duration(auditLeft))")
            } announce: { self.say("\(header): \($0)") }
            let seconds = monotonic() - runStarted
            if case .finished(_, cached: false) = outcome {
                spentSeconds += seconds
                spentEstimate += planned.estimatedSeconds
            }
            remainingEstimate -= planned.estimatedSeconds
            outcomes[planned.key] = outcome
        }
        say("[audit] \(total) runs done in \(duration(monotonic() - started))")
        return outcomes
    }

    private func execute(_ planned: PlannedRun, directory: String, progress: @escaping (TrainingProgress) -> Void,
                         announce: (String) -> Void) throws -> RunOutcome {
        let failurePath = directory + "/" + Self.failureName
        if FilePath.exists(failurePath) {
            let json = try JSONValue.parse(bytes: try FileBytes.read(failurePath), source: failurePath)
            announce("cached failure")
            return .failed(json["error"]?.stringValue ?? "failed (see \(failurePath))")
        }
        let finished = FilePath.exists(directory + "/summary.json") && FilePath.exists(directory + "/" + Trainer.finalName)
        if !finished {
            do {
                let trainer: Trainer
                if FilePath.exists(directory + "/" + Trainer.checkpointName) {
                    trainer = try Trainer(resuming: directory)
                    announce("resuming at step \(trainer.step) of \(planned.config.steps)")
                } else {
                    if FilePath.exists(directory) { try FileManager.default.removeItem(atPath: directory) }
                    trainer = try Trainer(config: planned.config, directory: directory)
                    announce("training (estimated \(duration(planned.estimatedSeconds)))")
                }
                let every = max(1, planned.config.steps / 4)
                try trainer.run { if $0.step % every == 0 { progress($0) } }
            } catch let error as OutlierLabError {
                try recordFailure(error.message, at: failurePath)
                announce("FAILED: \(error.message)")
                return .failed(error.message)
            }
        } else {
            announce("cached")
        }
        for request in planned.quantisations.sorted() {
            let path = directory + "/" + request.fileName
            guard !FilePath.exists(path) else { continue }
            let result: QuantisedPerplexity
            do {
                result = try evaluator.measure(checkpoint: directory + "/" + Trainer.finalName, request: request)
            } catch let error as OutlierLabError {
                return .failed("\(request.label): \(error.message)")
            }
            try AtomicFile.write(JSONValue.object([
                "scheme": .string(request.scheme), "bits": .int(Int64(request.bits)),
                "float_ppl": .double(result.floatPPL), "quantised_ppl": .double(result.quantisedPPL),
            ]).serialized(pretty: true) + "\n", to: path)
            announce("\(request.label): ppl \(formatNumber(result.floatPPL)) → \(formatNumber(result.quantisedPPL))")
        }
        return .finished(try RunRecord.load(directory, requests: planned.quantisations), cached: finished)
    }

    private func recordFailure(_ message: String, at path: String) throws {
        try AtomicFile.write(JSONValue.object(["error": .string(message)]).serialized(pretty: true) + "\n", to: path)
    }
}

/// "42 s", "3 min 05 s", "1 h 12 min".
public func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(String(format: "%02d", s % 60)) s" }
    return "\(s / 3600) h \(String(format: "%02d", (s % 3600) / 60)) min"
}

func monotonic() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
