import Foundation
import OLCore
import OLTraining

/// How one planned run ended.
public enum RunOutcome: Sendable {
    case finished(RunRecord, cached: Bool)
    /// Training stopped (non-finite loss or gradient) or evaluation failed; the message says where.
    /// Cached like a result: the same config fails the same way again.
    case failed(String)
}

/// Executing one run spec into its cached run directory, and reading back what a run left there. The
/// single path every backend takes: `olab run-task` calls `execute` in a worker process or a Slurm task,
/// and the audit or sweep reads the results with `outcome` once the tasks are done.
public enum RunExecution {
    /// Marks a run whose training or evaluation failed; its message is cached like a result.
    public static let failureName = "failed.json"

    /// Trains (or resumes) the run of `spec` under `runs` and runs its quantised evaluations, holding the
    /// run's lock throughout, so two processes never write one run: the second waits, then finds it done.
    /// A finished run is not touched again; a run interrupted at a checkpoint resumes from it.
    public static func execute(
        _ spec: RunSpec, runs: String, evaluator: any QuantisedEvaluator = SchemeEvaluator(),
        announce: (String) -> Void = { _ in }, progress: @escaping (TrainingProgress) -> Void = { _ in }
    ) throws -> RunOutcome {
        try FilePath.makeDirectories(runs)
        return try FileLock.withExclusive(RunSpec.lockPath(spec.key, in: runs)) {
            try executeLocked(spec, directory: RunSpec.directory(spec.key, in: runs), evaluator: evaluator,
                              announce: announce, progress: progress)
        }
    }

    private static func executeLocked(
        _ spec: RunSpec, directory: String, evaluator: any QuantisedEvaluator,
        announce: (String) -> Void, progress: @escaping (TrainingProgress) -> Void
    ) throws -> RunOutcome {
        let failurePath = directory + "/" + failureName
        if let message = try cachedFailure(failurePath) {
            announce("cached failure")
            return .failed(message)
        }
        if FilePath.exists(failurePath) { unlink(failurePath) }
        if FilePath.exists(directory + "/" + sealName), let problem = sealProblem(spec, directory: directory) {
            announce("the cached run failed its integrity check (\(problem)); recomputing it")
            try FileManager.default.removeItem(atPath: directory)
        }
        let trained = isTrained(directory)
        if trained, let problem = trainedProblem(spec, directory: directory) {
            announce("the run directory does not hold this run (\(problem)); recomputing it")
            try FileManager.default.removeItem(atPath: directory)
        }
        if !isTrained(directory) {
            do {
                let trainer: Trainer
                if FilePath.exists(directory + "/" + Trainer.checkpointName) {
                    trainer = try Trainer(resuming: directory)
                    announce("resuming at step \(trainer.step) of \(spec.config.steps)")
                } else {
                    if FilePath.exists(directory) { try FileManager.default.removeItem(atPath: directory) }
                    trainer = try Trainer(config: spec.config, directory: directory)
                    announce("training")
                }
                try trainMeasuringAlongTheWay(trainer, spec: spec, evaluator: evaluator, announce: announce, progress: progress)
            } catch let error as OutlierLabError where !error.isTransient {
                try recordFailure(error.message, at: failurePath)
                announce("FAILED: \(error.message)")
                return .failed(error.message)
            }
        } else {
            announce("cached")
        }
        // A request the seal does not cover is evaluated again (an unsealed file may be a leftover of an
        // interrupted evaluation or an edit), without retraining the sealed run.
        let sealed = sealedNames(directory)
        let missing = spec.quantisations.filter { !FilePath.exists(directory + "/" + $0.fileName) || (!sealed.isEmpty && !sealed.contains($0.fileName)) }
        if !missing.isEmpty {
            let results: [QuantisedPerplexity]
            do {
                results = try evaluator.measure(checkpoint: directory + "/" + Trainer.finalName, requests: missing)
            } catch let error as OutlierLabError where !error.isTransient {
                let message = "quantised evaluation: \(error.message)"
                try recordFailure(message, at: failurePath)
                return .failed(message)
            }
            for (request, result) in zip(missing, results) {
                try result.write(request, in: directory)
                announce("\(request.label): ppl \(formatNumber(result.floatPPL)) → \(formatNumber(result.quantisedPPL))")
            }
        }
        try seal(spec, directory: directory)
        return .finished(try RunRecord.load(directory, requests: Set(spec.quantisations)), cached: trained)
    }

    /// What the run of `spec` left under `runs`: finished (every quantised evaluation included), failed,
    /// or nil when it is not done (never started, still running, or its task was killed).
    public static func outcome(of spec: RunSpec, runs: String, cached: Bool) throws -> RunOutcome? {
        let directory = RunSpec.directory(spec.key, in: runs)
        if let message = try cachedFailure(directory + "/" + failureName) { return .failed(message) }
        guard isDone(spec, runs: runs) else { return nil }
        return .finished(try RunRecord.load(directory, requests: Set(spec.quantisations)), cached: cached)
    }

    /// Whether the run of `spec` failed, or finished with every quantised evaluation and outputs that
    /// still match their seal (so an edited, truncated or foreign cached run is recomputed, never used).
    public static func isDone(_ spec: RunSpec, runs: String) -> Bool {
        let directory = RunSpec.directory(spec.key, in: runs)
        if (try? cachedFailure(directory + "/" + failureName)) != nil { return true }
        return FilePath.exists(directory + "/" + sealName) && sealProblem(spec, directory: directory) == nil
            && spec.quantisations.allSatisfy { sealedNames(directory).contains($0.fileName) }
    }

    /// The file names a run's seal lists (empty without a readable seal).
    static func sealedNames(_ directory: String) -> Set<String> {
        guard let seal = try? JSONValue.parse(bytes: try FileBytes.read(directory + "/" + sealName)),
              let members = seal["sha256"]?.objectMembers else { return [] }
        return Set(members.map(\.key))
    }

    // MARK: Cache integrity

    /// The seal of a finished run: its key, step count and the SHA-256 of every output a report reads.
    public static let sealName = "cache.json"

    /// The training outputs every seal must cover (with `evaluations.jsonl` when the run measures along the way).
    static func trainingFiles(_ spec: RunSpec) -> [String] {
        ["config.json", "metrics.jsonl", "summary.json", Trainer.finalName] + (spec.config.evalAt.isEmpty ? [] : [EvaluationPoint.fileName])
    }

    /// Outputs whose digests the seal records: the run's files and its quantised evaluations.
    static func sealedFiles(_ spec: RunSpec) -> [String] {
        trainingFiles(spec) + spec.quantisations.map(\.fileName)
    }

    /// Seals the run's training outputs and quantised evaluations: this spec's, and those an earlier seal
    /// covered (another audit or sweep sharing the run) that are still there.
    static func seal(_ spec: RunSpec, directory: String) throws {
        var names = sealedFiles(spec)
        for name in sealedNames(directory).sorted() where !names.contains(name) && FilePath.exists(directory + "/" + name) { names.append(name) }
        let digests = try names.map { JSONMember($0, .string(SHA256.hex(try FileBytes.read(directory + "/" + $0)))) }
        try AtomicFile.write(JSONValue.object([
            JSONMember("format_version", 1), JSONMember("key", .string(spec.key)),
            JSONMember("steps", .int(Int64(spec.config.steps))), JSONMember("sha256", .object(digests)),
        ]).serialized(pretty: true) + "\n", to: directory + "/" + sealName)
    }

    /// Why a sealed run may not be used (nil when it may): another key or step count, a training output
    /// missing from the seal, or a sealed file missing or changed since it was sealed. A quantised
    /// evaluation the seal does not list yet is not a problem: it is evaluated without retraining.
    static func sealProblem(_ spec: RunSpec, directory: String) -> String? {
        guard let seal = try? JSONValue.parse(bytes: try FileBytes.read(directory + "/" + sealName)) else { return "unreadable \(sealName)" }
        guard seal["steps"]?.intValue == spec.config.steps else { return "it ran another number of steps" }
        let listed = (seal["sha256"]?.objectMembers ?? []).map(\.key)
        for name in trainingFiles(spec) where !listed.contains(name) { return "\(name) is not sealed" }
        return sealedFilesProblem(directory: directory, key: spec.key) ?? trainedProblem(spec, directory: directory)
    }

    /// Why the outputs of the sealed run `key` in `directory` may not be read (nil when they may): the
    /// seal unreadable or naming another run, a sealed file missing or changed since it was sealed.
    static func sealedFilesProblem(directory: String, key: String) -> String? {
        guard let seal = try? JSONValue.parse(bytes: try FileBytes.read(directory + "/" + sealName)) else { return "unreadable \(sealName)" }
        guard seal["key"]?.stringValue == key else { return "\(sealName) names another run" }
        for member in seal["sha256"]?.objectMembers ?? [] {
            guard let expected = member.value.stringValue else { return "\(member.key) is not sealed" }
            guard let bytes = try? FileBytes.read(directory + "/" + member.key) else { return "\(member.key) is missing" }
            guard SHA256.hex(bytes) == expected else { return "\(member.key) changed since the run finished" }
        }
        return nil
    }

    /// Why a run directory a report reads may not be reported (nil when it may), the check of every
    /// reader that has no spec (`olab report`): a sealed run's seal must name the directory's key and
    /// match every sealed file; sealed or not, the model must carry the run's own config.
    public static func reportedRunProblem(_ directory: String) -> String? {
        if FilePath.exists(directory + "/" + sealName),
           let problem = sealedFilesProblem(directory: directory, key: FilePath.lastComponent(of: directory)) { return problem }
        guard FilePath.exists(directory + "/" + Trainer.finalName) else { return nil }
        guard let config = try? TrainingConfig(json: try JSONValue.parse(bytes: try FileBytes.read(directory + "/config.json"))) else {
            return "config.json is unreadable"
        }
        return modelProblem(directory: directory, config: config)
    }

    /// Why the final model in `directory` is not a model of `config` (nil when it is): the checkpoint
    /// carries the config it was trained with, compared here without the corpus path (the key holds its digest).
    static func modelProblem(directory: String, config: TrainingConfig) -> String? {
        guard let contents = try? Safetensors.read(directory + "/" + Trainer.finalName), let text = contents.metadata["config"],
              let own = try? TrainingConfig(json: try JSONValue.parse(text)) else { return "\(Trainer.finalName) carries no readable config" }
        return withoutCorpus(own) == withoutCorpus(config) ? nil : "\(Trainer.finalName) is the model of another config"
    }

    static func withoutCorpus(_ config: TrainingConfig) -> [JSONMember] { (config.json.objectMembers ?? []).filter { $0.key != "corpus" } }

    /// Why a trained directory is not the run of `spec`: another config in config.json or in the model
    /// itself, or fewer steps than it needs. The corpus is compared by the key (its fingerprint), not by
    /// path, which a trainer may resolve.
    static func trainedProblem(_ spec: RunSpec, directory: String) -> String? {
        guard let config = try? TrainingConfig(json: try JSONValue.parse(bytes: try FileBytes.read(directory + "/config.json"))),
              withoutCorpus(config) == withoutCorpus(spec.config) else { return "config.json is not this run's config" }
        guard let summary = try? JSONValue.parse(bytes: try FileBytes.read(directory + "/summary.json")),
              summary["steps"]?.intValue == spec.config.steps else { return "summary.json does not report \(spec.config.steps) steps" }
        return modelProblem(directory: directory, config: spec.config)
    }

    static func isTrained(_ directory: String) -> Bool {
        FilePath.exists(directory + "/summary.json") && FilePath.exists(directory + "/" + Trainer.finalName)
    }

    /// The cached verdict of a failed run, nil when there is none. A failure the machine caused (full disk,
    /// I/O error; recorded by an earlier version) is no verdict: the run is retried (and the file removed then).
    private static func cachedFailure(_ path: String) throws -> String? {
        guard FilePath.exists(path) else { return nil }
        let json = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
        let message = json["error"]?.stringValue ?? "failed (see \(path))"
        return OutlierLabError(message).isTransient ? nil : message
    }

    private static func recordFailure(_ message: String, at path: String) throws {
        try AtomicFile.write(JSONValue.object(["error": .string(message)]).serialized(pretty: true) + "\n", to: path)
    }
}

/// An advisory `flock` on a lock file, released when the body returns or the process dies (a killed
/// Slurm task or worker never leaves a stale lock behind).
enum FileLock {
    static func withExclusive<R>(_ path: String, _ body: () throws -> R) throws -> R {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw OutlierLabError("cannot open lock file \(path): \(errnoText())") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw OutlierLabError("cannot lock \(path): \(errnoText())") }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
