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

/// A training run in a run directory (<doc:Training>): `config.json`, `metrics.jsonl`, `checkpoint.safetensors`
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
    let windows: EvaluationWindows
    let probe: ProbeBatch
    let schedule: LearningRateSchedule
    private let inputs: UnsafeMutableBufferPointer<Int32>
    private let targets: UnsafeMutableBufferPointer<Int32>
    private let log: MetricsLog
    /// Running kurtosis-update totals per tap, and the probe taps after the last step (decomposition on).
    var kurtosisUpdates: [KurtosisUpdateAccumulator] = []
    var previousTaps: [[Float]] = []

    public static let checkpointName = RunDirectory.checkpointName
    public static let finalName = RunDirectory.finalName
    /// The corpus a run trains on, recorded when it starts (`ByteCorpus.summary` with an absolute
    /// `source`), and any change accepted with `allowCorpusChange` since.
    public static let corpusRecordName = RunDirectory.corpusRecordName

    /// The run directory, locked for the trainer's lifetime: one writer per run directory.
    private let runDirectory: RunDirectory
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
        if case .file(let path) = config.corpusSource { config.corpusSource = .file(RunDirectory.absolutePath(path)) }
        let (run, created) = try RunDirectory.claimNew(directory)
        do {
            try self.init(config: config, run: run, checkpoint: nil, allowCorpusChange: false)
        } catch {
            run.lock.release()
            RunDirectory.removeCreated(created, directory: directory)
            throw error
        }
    }

    /// Resumes the run in `directory` from its last checkpoint. The checkpoint's config must agree with
    /// the run's `config.json` (a checkpoint copied in from another run is refused), and the corpus must
    /// have the SHA-256 the run recorded unless `allowCorpusChange` (the change is then recorded in
    /// `corpus.json`). A run killed before its first checkpoint restarts from step 0 with its
    /// `config.json`, which reproduces it exactly.
    public convenience init(resuming directory: String, allowCorpusChange: Bool = false) throws {
        let (run, config, checkpoint) = try RunDirectory.openForResume(directory)
        try self.init(config: config, run: run, checkpoint: checkpoint, allowCorpusChange: allowCorpusChange)
    }

    private init(config: TrainingConfig, run: RunDirectory, checkpoint: Checkpoint?, allowCorpusChange: Bool) throws {
        self.config = config
        directory = run.path
        runDirectory = run
        let seq = config.model.seq
        corpus = try config.loadCorpus()
        corpusDigest = corpus.sha256
        let recordPath = run.corpusRecordPath
        var corpusNote: String?
        if let recordedDigest = try run.recordedCorpusDigest(checkpoint), recordedDigest != corpusDigest {
            let change = "the corpus \(config.corpus) has changed since the run started (SHA-256 \(String(recordedDigest.prefix(12)).escapingControlCharacters)… recorded, \(corpusDigest.prefix(12))… now)"
            guard allowCorpusChange else {
                throw OutlierLabError("\(directory): \(change); restore it, or pass --allow-corpus-change to continue on the new data")
            }
            corpusNote = change + "; continuing on the new data as --allow-corpus-change asked, recorded in \(recordPath)"
        }
        sampler = try BatchSampler(train: corpus.train, batchSize: config.batch, sequenceLength: seq, seed: config.seed, layout: config.tokenLayout)
        windows = try EvaluationWindows(validation: corpus.validation, count: config.evalWindows, sequenceLength: seq, bos: config.bos)
        probe = try ProbeBatch(validation: corpus.validation, batchSize: config.probeBatch, sequenceLength: seq, seed: config.seed, bos: config.bos)
        model = try GPT(config: config.model, seed: config.seed, maxBatch: max(config.batch, config.probeBatch))
        optimizer = try config.optimizerConfig().makeOptimizer(layout: model.parameters.layout)
        schedule = try config.learningRateSchedule()
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
            if !FilePath.exists(run.configPath) { try run.writeConfig(config) }
            if corpusNote != nil || !FilePath.exists(recordPath) {
                try run.recordCorpus(corpus, digest: corpusDigest, change: corpusNote, step: step)
            }
        } else {
            let (loaded, digest) = (corpus, corpusDigest)
            log = try run.startFiles(config: config) {
                try run.recordCorpus(loaded, digest: digest, change: corpusNote, step: 0)
            }
        }
        if let corpusNote { notes.append(corpusNote) }
        inputs = .allocate(capacity: config.batch * seq)
        targets = .allocate(capacity: config.batch * seq)
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
            if let name = model.parameters.firstNonFiniteTensor() {
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

    private func writeOutput(_ name: String, _ write: (String) throws -> Void) throws {
        try runDirectory.writeOutput(name, step: step, write)
    }

    public func checkpoint() -> Checkpoint {
        Checkpoint(config: config, step: step, parameters: model.parameters, optimizer: optimizer, sampler: sampler.state,
                   trainingState: kurtosisUpdates.isEmpty ? [] : [kurtosisUpdateTensor], corpusSHA256: corpusDigest)
    }

    /// The global gradient norm, after which gradients are scaled to `gradClip` if it is exceeded
    /// (`clipGlobalNorm`). A non-finite norm names the first tensor with a non-finite gradient.
    private func clipGradients() throws -> Double {
        let norm = clipGlobalNorm(model.gradients, maxNorm: config.gradClip)
        guard norm.isFinite else {
            let name = model.gradients.firstNonFiniteTensor() ?? "?"
            throw OutlierLabError("step \(step + 1): non-finite gradient in \(name); stopped, the last checkpoint in \(directory) is kept")
        }
        return norm
    }
}
