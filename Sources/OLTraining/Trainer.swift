#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore
import OLData
import OLMetrics
import OLModel
import OLOptimizers
import OLQuant

/// What the trainer reports after every step, for progress displays.
public struct TrainingProgress: Sendable {
    public let step: Int
    public let steps: Int
    public let loss: Double
    public let tokensPerSecond: Double
    public let elapsedSeconds: Double
}

/// A training run in a run directory (SPEC §4): `config.json`, `metrics.jsonl`, `checkpoint.safetensors`
/// (periodic and `--stop-after` checkpoints), `model.safetensors` (the final checkpoint) and `summary.json`.
///
/// Determinism: the model is initialised from the `init` stream, batches come from the `data` stream, the
/// probe batch from `probe`; the synthetic corpus always uses seed 0, so runs that differ only in seed
/// see the same text in a different order. Same binary, config and machine ⇒ identical bits, and a
/// resumed run continues exactly where the uninterrupted run would be.
public final class Trainer {
    public let config: TrainingConfig
    public let directory: String
    public let model: GPT
    public let corpus: ByteCorpus
    /// `corpus.sha256`, computed once: every checkpoint records it.
    private let corpusDigest: String
    public private(set) var optimizer: any Optimizer
    public private(set) var step: Int
    private var sampler: BatchSampler
    private let windows: EvaluationWindows
    private let probe: ProbeBatch
    private let schedule: LearningRateSchedule
    private let inputs: UnsafeMutableBufferPointer<Int32>
    private let targets: UnsafeMutableBufferPointer<Int32>
    private let log: MetricsLog
    /// Running kurtosis-update totals per tap, and the probe taps after the last step (decomposition on).
    private var kurtosisUpdates: [KurtosisUpdateAccumulator] = []
    private var previousTaps: [[Float]] = []

    public static let checkpointName = "checkpoint.safetensors"
    public static let finalName = "model.safetensors"
    /// The corpus a run trains on, recorded when it starts (`ByteCorpus.summary` with an absolute
    /// `source`), and any change accepted with `allowCorpusChange` since.
    public static let corpusRecordName = "corpus.json"

    /// Held for the trainer's lifetime: one writer per run directory.
    private let lock: RunDirectoryLock
    /// What a resume found and repaired (metrics.jsonl lines, an accepted corpus change), one line each,
    /// for the command line to print.
    public private(set) var notes: [String] = []

    /// Starts a new run in `directory` (created if needed). The directory must be new or empty: an
    /// existing run there, or any other file, is an error, so a stranger's files are never overwritten.
    /// The directory is locked for the run (`RunDirectoryLock`); a relative corpus path is stored
    /// absolute. Nothing but the lock is written until the corpus, model and optimiser have been built,
    /// and a failed start removes what it created.
    public convenience init(config: TrainingConfig, directory: String) throws {
        try config.validate()
        var config = config
        config.corpus = Trainer.absoluteCorpusPath(config.corpus)
        // Checked before the lock (no lock file is left in a stranger's directory) and again under it.
        func requireEmpty() throws {
            guard FilePath.isDirectory(directory) else { return }
            for name in ["config.json", Trainer.checkpointName, Trainer.finalName] where FilePath.exists(directory + "/" + name) {
                throw OutlierLabError("\(directory) already holds a run (\(name)); resume it with --resume \(directory) or choose another --out")
            }
            let strangers = try FilePath.entries(of: directory).filter { $0 != RunDirectoryLock.fileName && AtomicFile.temporaryOwner($0) == nil }
            if let first = strangers.first {
                throw OutlierLabError("\(directory) is not empty and is not a run directory (it holds \(first.escapingControlCharacters)\(strangers.count > 1 ? " and \(strangers.count - 1) more" : "")); choose a new or empty --out")
            }
        }
        try requireEmpty()
        let created = try FilePath.makeDirectories(directory)
        let lock: RunDirectoryLock
        do {
            lock = try RunDirectoryLock(directory: directory)
            try requireEmpty()
            AtomicFile.removeTemporaries(in: directory)
        } catch {
            Trainer.removeCreated(created, directory: directory)
            throw error
        }
        do {
            try self.init(config: config, directory: directory, checkpoint: nil, lock: lock, allowCorpusChange: false)
        } catch {
            lock.release()
            Trainer.removeCreated(created, directory: directory)
            throw error
        }
    }

    /// Resumes the run in `directory` from its last checkpoint. The checkpoint's config must agree with
    /// the run's `config.json` (a checkpoint copied in from another run is refused), and the corpus must
    /// have the SHA-256 the run recorded unless `allowCorpusChange` (the change is then recorded in
    /// `corpus.json`). A run killed before its first checkpoint restarts from step 0 with its
    /// `config.json`, which reproduces it exactly.
    public convenience init(resuming directory: String, allowCorpusChange: Bool = false) throws {
        guard FilePath.isDirectory(directory) else { throw OutlierLabError("\(directory) is not a run directory (no such directory)") }
        let lock = try RunDirectoryLock(directory: directory)
        AtomicFile.removeTemporaries(in: directory)
        let path = directory + "/" + Trainer.checkpointName
        let configPath = directory + "/config.json"
        guard FilePath.exists(path) else {
            if FilePath.exists(directory + "/" + Trainer.finalName) {
                throw OutlierLabError("\(directory) holds a finished run (\(Trainer.finalName)); nothing to resume")
            }
            guard FilePath.exists(configPath) else {
                throw OutlierLabError("\(directory) has no \(Trainer.checkpointName) to resume from")
            }
            let config = try TrainingConfig(json: try JSONValue.parse(bytes: try FileBytes.read(configPath), source: configPath), source: configPath)
            try self.init(config: config, directory: directory, checkpoint: nil, lock: lock, allowCorpusChange: allowCorpusChange)
            return
        }
        let checkpoint = try Checkpoint.read(path)
        if FilePath.exists(configPath) {
            let recorded = try TrainingConfig(json: try JSONValue.parse(bytes: try FileBytes.read(configPath), source: configPath), source: configPath)
            guard recorded == checkpoint.config else {
                let differing = zip(recorded.json.objectMembers!, checkpoint.config.json.objectMembers!)
                    .filter { $0.0.value != $0.1.value }
                    .map { "\($0.0.key) \($0.0.value.serialized()) vs \($0.1.value.serialized())" }
                throw OutlierLabError("\(path): the checkpoint's config disagrees with \(configPath) (\(differing.joined(separator: ", "))); it belongs to another run")
            }
        }
        try self.init(config: checkpoint.config, directory: directory, checkpoint: checkpoint, lock: lock, allowCorpusChange: allowCorpusChange)
    }

    private init(config: TrainingConfig, directory: String, checkpoint: Checkpoint?, lock: RunDirectoryLock, allowCorpusChange: Bool) throws {
        self.config = config
        self.directory = directory
        self.lock = lock
        let seq = config.model.seq
        corpus = try config.loadCorpus()
        corpusDigest = corpus.sha256
        let recordPath = directory + "/" + Trainer.corpusRecordName
        // The digest the run recorded: the checkpoint's, else (killed before its first checkpoint) the
        // record written at the start; a fresh run has none yet.
        var recordedDigest = checkpoint?.corpusSHA256
        if recordedDigest == nil && FilePath.exists(recordPath) {
            recordedDigest = try JSONValue.parse(bytes: try FileBytes.read(recordPath), source: recordPath)["sha256"]?.stringValue
        }
        var corpusNote: String?
        if let recordedDigest, recordedDigest != corpusDigest {
            let change = "the corpus \(config.corpus) has changed since the run started (SHA-256 \(String(recordedDigest.prefix(12)).escapingControlCharacters)… recorded, \(corpusDigest.prefix(12))… now)"
            guard allowCorpusChange else {
                throw OutlierLabError("\(directory): \(change); restore it, or pass --allow-corpus-change to continue on the new data")
            }
            corpusNote = change + "; continuing on the new data as --allow-corpus-change asked, recorded in \(recordPath)"
        }
        sampler = try BatchSampler(train: corpus.train, batchSize: config.batch, sequenceLength: seq, seed: config.seed)
        windows = try EvaluationWindows(validation: corpus.validation, count: config.evalWindows, sequenceLength: seq)
        probe = try ProbeBatch(validation: corpus.validation, batchSize: config.probeBatch, sequenceLength: seq, seed: config.seed)
        model = try GPT(config: config.model, seed: config.seed, maxBatch: max(config.batch, config.probeBatch))
        let optimizerConfig = try config.optimizerConfig()
        optimizer = try optimizerConfig.makeOptimizer(layout: model.parameters.layout)
        schedule = LearningRateSchedule(peak: config.lr ?? optimizerConfig.learningRate, steps: config.steps,
                                        warmupFraction: config.warmupFraction, decay: config.schedule)
        step = 0
        if let checkpoint {
            checkpoint.loadParameters(into: model.parameters)
            do { try optimizer.importState(checkpoint.optimizerState) } catch let error as OutlierLabError {
                throw OutlierLabError("\(directory)/\(Trainer.checkpointName): \(error.message)")
            }
            sampler.restore(checkpoint.sampler)
            kurtosisUpdates = try Trainer.kurtosisUpdates(from: checkpoint.trainingState, config: config)
            step = checkpoint.step
            let opened = try MetricsLog.resuming(path: directory + "/metrics.jsonl", checkpointStep: checkpoint.step,
                                                 loggedSteps: config.loggedSteps(through: checkpoint.step))
            log = opened.log
            notes += opened.notes
            if !FilePath.exists(directory + "/config.json") {
                try AtomicFile.write(config.json.serialized(pretty: true) + "\n", to: directory + "/config.json")
            }
            if corpusNote != nil || !FilePath.exists(recordPath) {
                try Trainer.recordCorpus(corpus, digest: corpusDigest, change: corpusNote, step: step, at: recordPath)
            }
        } else {
            let (loaded, digest) = (corpus, corpusDigest)
            log = try Trainer.startFiles(config: config, directory: directory) {
                try Trainer.recordCorpus(loaded, digest: digest, change: corpusNote, step: 0, at: recordPath)
            }
        }
        if let corpusNote { notes.append(corpusNote) }
        inputs = .allocate(capacity: config.batch * seq)
        targets = .allocate(capacity: config.batch * seq)
    }

    /// Writes `corpus.json`: the corpus summary, plus every accepted change (step, old and new digest).
    private static func recordCorpus(_ corpus: ByteCorpus, digest: String, change: String?, step: Int, at path: String) throws {
        var changes: [JSONValue] = []
        if FilePath.exists(path), let old = try? JSONValue.parse(bytes: try FileBytes.read(path), source: path) {
            changes = old["changes"]?.arrayValue ?? []
        }
        if let change {
            changes.append(.object([JSONMember("step", .int(Int64(step))), JSONMember("to_sha256", .string(digest)),
                                    JSONMember("note", .string(change))]))
        }
        let members = (corpus.summary.objectMembers ?? []) + [JSONMember("changes", .array(changes))]
        try AtomicFile.write(JSONValue.object(members).serialized(pretty: true) + "\n", to: path)
    }

    /// A corpus path made absolute (symbolic links resolved) so that the run, its resume and `eval`
    /// read the same data from any working directory; "synthetic" and paths that do not resolve stay.
    static func absoluteCorpusPath(_ path: String) -> String {
        guard path != "synthetic", let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Undoes a failed fresh start: the lock file and the directories it created.
    private static func removeCreated(_ created: [String], directory: String) {
        guard !created.isEmpty else { return }
        unlink(directory + "/" + RunDirectoryLock.fileName)
        for made in created.reversed() { rmdir(made) }
    }

    /// Creates `config.json`, `corpus.json` and an empty `metrics.jsonl` in the (locked) run directory.
    /// If any of them cannot be written (unwritable or full disk), removes what it created, so a failed
    /// start leaves no partial run.
    private static func startFiles(config: TrainingConfig, directory: String, recordCorpus: () throws -> Void) throws -> MetricsLog {
        let names = ["config.json", "metrics.jsonl", corpusRecordName]
        let existed = names.map { FilePath.exists(directory + "/" + $0) }
        do {
            try AtomicFile.write(config.json.serialized(pretty: true) + "\n", to: directory + "/config.json")
            try recordCorpus()
            return try MetricsLog(path: directory + "/metrics.jsonl")
        } catch {
            for (name, existed) in zip(names, existed) where !existed { unlink(directory + "/" + name) }
            throw error
        }
    }

    deinit {
        inputs.deallocate()
        targets.deallocate()
    }

    /// Trains until the schedule ends, `stopAfter` steps are done (counting from step 0), or an interrupt
    /// (SIGINT/SIGTERM, see `Interruption`) arrives, writing checkpoints on the way; a stop before the end
    /// writes `checkpoint.safetensors` at the step reached. At the schedule's end writes
    /// `model.safetensors` and `summary.json`.
    /// A non-finite loss or gradient stops with an error naming the step (and the tensor); the last
    /// checkpoint on disk is kept.
    @discardableResult
    public func run(stopAfter: Int? = nil, progress: ((TrainingProgress) -> Void)? = nil) throws -> JSONValue? {
        let end = min(config.steps, stopAfter ?? config.steps)
        let T = config.model.seq, B = config.batch
        let started = monotonicSeconds()
        var lastLogTime = started, lastLogStep = step
        var checkpointedStep: Int?
        if config.kurtosisDecomposition {
            if kurtosisUpdates.isEmpty { kurtosisUpdates = Array(repeating: KurtosisUpdateAccumulator(), count: config.model.layers + 1) }
            previousTaps = probeTaps()
        }
        if step == 0 { try log.append(try logRecord(loss: nil, gradNorm: nil, tokensPerSecond: nil)) }
        while step < end && Interruption.requested == nil {
            sampler.next(inputs: inputs, targets: targets)
            let loss = model.forward(tokens: UnsafeBufferPointer(inputs), targets: UnsafeBufferPointer(targets), B: B, T: T)!
            guard loss.isFinite else {
                throw OutlierLabError("step \(step + 1): the training loss is \(loss); stopped, the last checkpoint in \(directory) is kept")
            }
            model.zeroGradients()
            model.backward()
            let gradNorm = try clipGradients()
            do {
                try optimizer.step(parameters: model.parameters, gradients: model.gradients, learningRate: Float(schedule.rate(at: step)))
            } catch let error as OutlierLabError {
                throw OutlierLabError("step \(step + 1): \(error.message); stopped, the last checkpoint in \(directory) is kept")
            }
            // A finite gradient can still overflow the update (an absurd learning rate): stop before a
            // checkpoint could store the broken parameters over the last good one.
            if let name = Trainer.firstNonFiniteTensor(model.parameters) {
                throw OutlierLabError("step \(step + 1): the optimiser update made parameter \(name) non-finite; stopped, the last checkpoint in \(directory) is kept")
            }
            step += 1
            if config.kurtosisDecomposition { accumulateKurtosisUpdates() }
            let now = monotonicSeconds()
            let tokensPerSecond = Double((step - lastLogStep) * B * T) / max(now - lastLogTime, 1e-9)
            progress?(TrainingProgress(step: step, steps: config.steps, loss: loss, tokensPerSecond: tokensPerSecond, elapsedSeconds: now - started))
            if step % config.logEvery == 0 || step == config.steps {
                try log.append(try logRecord(loss: loss, gradNorm: gradNorm, tokensPerSecond: tokensPerSecond))
                lastLogTime = monotonicSeconds()
                lastLogStep = step
            }
            if config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < config.steps {
                try writeOutput(Trainer.checkpointName) { try checkpoint().write(to: $0) }
                checkpointedStep = step
            }
        }
        guard step == config.steps else {
            // A stop right after a periodic checkpoint does not write the same bytes a second time.
            if checkpointedStep != step { try writeOutput(Trainer.checkpointName) { try checkpoint().write(to: $0) } }
            return nil
        }
        try writeOutput(Trainer.finalName) { try checkpoint().write(to: $0) }
        let summary = try summaryRecord(wallSeconds: monotonicSeconds() - started)
        try writeOutput("summary.json") { try AtomicFile.write(summary.serialized(pretty: true) + "\n", to: $0) }
        return summary
    }

    /// Writes one output file of the run; a failure (full disk, unwritable directory) names the step and
    /// says what survived: writes are atomic, so every file on disk is still its previous complete version.
    private func writeOutput(_ name: String, _ write: (String) throws -> Void) throws {
        do {
            try Interruption.deferringSecondSignal { try write(directory + "/" + name) }
        } catch let error as OutlierLabError {
            throw OutlierLabError("step \(step): \(error.message); the files already in \(directory) are unchanged, continue with: olab train --resume \(directory)")
        }
    }

    /// The name of the first tensor of `arena` holding a NaN or infinity, nil if all are finite.
    static func firstNonFiniteTensor(_ arena: FloatArena) -> String? {
        var finite = true
        for value in arena.storage where !value.isFinite { finite = false; break }
        if finite { return nil }
        return arena.layout.specs.indices.first { !arena.view($0).allSatisfy(\.isFinite) }.map { arena.layout.specs[$0].name } ?? "?"
    }

    public func checkpoint() -> Checkpoint {
        Checkpoint(config: config, step: step, parameters: model.parameters, optimizer: optimizer, sampler: sampler.state,
                   trainingState: kurtosisUpdates.isEmpty ? [] : [kurtosisUpdateTensor], corpusSHA256: corpusDigest)
    }

    // MARK: - Kurtosis-update decomposition (SPEC §6)

    /// The residual taps of the current parameters on the probe batch.
    private func probeTaps() -> [[Float]] {
        let B = probe.batchSize, T = probe.sequenceLength
        probe.inputs.withUnsafeBufferPointer { x in _ = model.forward(tokens: x, targets: nil, B: B, T: T) }
        return (0...config.model.layers).map { Array(model.tap($0)) }
    }

    /// Adds the decomposition of the step just taken: ΔX of every tap between the probe activations
    /// before and after the update.
    private func accumulateKurtosisUpdates() {
        let after = probeTaps()
        let rows = probe.batchSize * probe.sequenceLength
        for tap in after.indices {
            kurtosisUpdates[tap].add(kurtosisUpdateTerms(before: previousTaps[tap], after: after[tap], rows: rows, width: config.model.width))
        }
        previousTaps = after
    }

    /// `train.kurtosis_update` (L+1, 9) F64: per tap the step count and the eight running totals.
    private var kurtosisUpdateTensor: NamedTensor {
        let values = kurtosisUpdates.flatMap { [Double($0.steps)] + $0.keyedTotals.map(\.value) }
        return NamedTensor(name: "train.kurtosis_update", shape: [kurtosisUpdates.count, 9], values: .float64(values))
    }

    static func kurtosisUpdates(from state: [NamedTensor], config: TrainingConfig) throws -> [KurtosisUpdateAccumulator] {
        guard let tensor = state.first(where: { $0.name == "train.kurtosis_update" }) else {
            return []
        }
        let taps = config.model.layers + 1
        guard tensor.shape == [taps, 9], let values = tensor.doubles else {
            throw OutlierLabError("train.kurtosis_update has shape \(tensor.shape) \(tensor.values.dtype), expected [\(taps), 9] F64")
        }
        return (0..<taps).map { KurtosisUpdateAccumulator(steps: Int(values[9 * $0]), totals: Array(values[9 * $0 + 1 ..< 9 * $0 + 9])) }
    }

    /// The global gradient norm (Double, index order), after which gradients are scaled to `gradClip`
    /// if it is exceeded. A non-finite norm names the first tensor with a non-finite gradient.
    private func clipGradients() throws -> Double {
        var sum = 0.0
        for value in model.gradients.storage { sum += Double(value) * Double(value) }
        let norm = sum.squareRoot()
        guard norm.isFinite else {
            let name = Trainer.firstNonFiniteTensor(model.gradients) ?? "?"
            throw OutlierLabError("step \(step + 1): non-finite gradient in \(name); stopped, the last checkpoint in \(directory) is kept")
        }
        if config.gradClip > 0 && norm > config.gradClip {
            let scale = Float(config.gradClip / norm)
            for i in model.gradients.storage.indices { model.gradients.storage[i] *= scale }
        }
        return norm
    }

    /// Probe loss and, when enabled, every outlier metric per tap on the fixed probe batch.
    public func probeMeasurements() -> ProbeReport {
        ProbeReport(model: model, probe: probe, metrics: config.metrics, linearTaps: config.linearTaps)
    }

    private func logRecord(loss: Double?, gradNorm: Double?, tokensPerSecond: Double?) throws -> JSONValue {
        let probe = probeMeasurements()
        let members: [JSONMember] = [
            JSONMember("step", .int(Int64(step))),
            JSONMember("loss", loss.map(JSONValue.double) ?? .null),
            JSONMember("probe_loss", .double(probe.loss)),
            JSONMember("lr", .double(schedule.rate(at: max(0, step - 1)))),
            JSONMember("grad_norm", gradNorm.map(JSONValue.double) ?? .null),
            JSONMember("tokens_per_s", tokensPerSecond.map(JSONValue.double) ?? .null),
        ]
        var decomposition: [JSONMember] = []
        if let keys = kurtosisUpdates.first?.keyedTotals.map(\.key) {
            decomposition = keys.indices.map { k in JSONMember(keys[k], .array(kurtosisUpdates.map { .double($0.keyedTotals[k].value) })) }
        }
        return .object(members + probe.perTapMembers + decomposition)
    }

    /// Mean token cross-entropy over the fixed validation windows (summed in Double in window order).
    public func validationLoss() throws -> Double {
        try validationLosses().mean
    }

    /// Per-window and mean token cross-entropy over the fixed validation windows.
    public func validationLosses() throws -> WindowLosses {
        try windowLosses(model: model, windows: windows, batch: config.batch)
    }

    private func summaryRecord(wallSeconds: Double) throws -> JSONValue {
        let validation = try validationLosses()
        // The W8A8-naive perplexity of SPEC §7 on the same windows, up to 64 windows per forward call so the
        // dynamic activation scale spans at least 64 windows: the number the paper's quantisation claims
        // are about, recorded for every run.
        let quantised = try QuantizedEvaluation.evaluate(config: config.model, parameters: model.parameters, windows: windows,
                                                         settings: .naive8, batch: QuantizedEvaluation.defaultBatch(windows),
                                                         calibration: nil)
        let probe = probeMeasurements()
        let blas = BLASInfo.current
        let delta = quantised.deltaPPLInterval
        let members: [JSONMember] = [
            JSONMember("steps", .int(Int64(step))),
            JSONMember("final_loss", .double(probe.loss)),
            JSONMember("val_loss", .double(validation.mean)),
            JSONMember("val_ppl", .double(validation.perplexity)),
            JSONMember("val_ppl_ci95", validation.perplexityInterval.json),
            JSONMember("val_windows", .int(Int64(windows.count))),
            JSONMember("val_tokens", .int(Int64(windows.tokenCount))),
            JSONMember("val_ppl_w8a8_naive", .double(quantised.pplQuant)),
            JSONMember("w8a8_naive_ratio", .double(quantised.ratio)),
            JSONMember("w8a8_naive_delta_ppl_ci95", delta.json),
            JSONMember("w8a8_naive_eval_batch", .int(Int64(quantised.batch))),
            JSONMember("val_ppl_resolution", delta.methodJSON),
            JSONMember("wall_time_s", .double(wallSeconds)),
            JSONMember("tokens_per_s", .double(Double(step * config.batch * config.model.seq) / max(wallSeconds, 1e-9))),
            JSONMember("parameters", .int(Int64(model.parameters.layout.parameterCount))),
            JSONMember("blas", blas.json),
            JSONMember("harness_version", .string(Harness.version)),
            JSONMember("corpus", corpus.summary),
        ]
        return .object(members + probe.summaryMembers)
    }
}


extension TrainingConfig {
    /// Refuses a config whose model cannot fit in this machine's memory before anything is allocated:
    /// a lower bound on the bytes of parameters, gradients, two optimiser moments, activations and the
    /// synthetic corpus, computed with overflow checks. Without it an absurd width, depth or batch
    /// (from a config file or a corrupt checkpoint) would trap on overflow or die allocating.
    public func requireFitsInMemory(source: String) throws {
        let rows = max(batch, probeBatch)
        let bytes = SizeLimits.sum(SizeLimits.modelBytes(model, rows: rows, parameterCopies: 4), corpus == "synthetic" ? syntheticBytes : 0)
        try SizeLimits.requireMemory(bytes, source: source,
                                     what: "this config (width \(model.width), layers \(model.layers), seq \(model.seq), batch \(rows))",
                                     remedy: "reduce width, layers, seq or batch")
        // The summary's W8A8 evaluation runs every window in one forward call (one dynamic scale).
        try SizeLimits.requireMemory(SizeLimits.modelBytes(model, rows: evalWindows, parameterCopies: 2), source: source,
                                     what: "evaluating eval_windows \(evalWindows) windows of \(model.seq) tokens in one call",
                                     remedy: "reduce eval_windows")
        // Token counts over the schedule (throughput, progress) must be representable.
        guard SizeLimits.product(steps, batch, model.seq) != nil else {
            throw OutlierLabError("\(source): steps \(steps) × batch \(batch) × seq \(model.seq) tokens is more than can be counted; reduce steps")
        }
    }
}
