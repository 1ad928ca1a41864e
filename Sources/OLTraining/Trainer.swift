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
    public private(set) var optimizer: any Optimizer
    public private(set) var step: Int
    private var sampler: BatchSampler
    private let windows: EvaluationWindows
    private let probe: ProbeBatch
    private let schedule: LearningRateSchedule
    private let inputs: UnsafeMutableBufferPointer<Int32>
    private let targets: UnsafeMutableBufferPointer<Int32>
    private let log: MetricsLog

    public static let checkpointName = "checkpoint.safetensors"
    public static let finalName = "model.safetensors"

    /// Starts a new run in `directory` (created if needed; an existing run there is an error). Nothing is
    /// written until the corpus, model and optimiser have been built, so bad input leaves no files.
    public convenience init(config: TrainingConfig, directory: String) throws {
        try config.validate()
        for name in ["config.json", Trainer.checkpointName, Trainer.finalName] where FilePath.exists(directory + "/" + name) {
            throw OutlierLabError("\(directory) already holds a run (\(name)); resume it with --resume \(directory) or choose another --out")
        }
        try self.init(config: config, directory: directory, checkpoint: nil)
    }

    /// Resumes the run in `directory` from its last checkpoint.
    public convenience init(resuming directory: String) throws {
        let path = directory + "/" + Trainer.checkpointName
        guard FilePath.exists(path) else {
            if FilePath.exists(directory + "/" + Trainer.finalName) {
                throw OutlierLabError("\(directory) holds a finished run (\(Trainer.finalName)); nothing to resume")
            }
            throw OutlierLabError("\(directory) has no \(Trainer.checkpointName) to resume from")
        }
        let checkpoint = try Checkpoint.read(path)
        try self.init(config: checkpoint.config, directory: directory, checkpoint: checkpoint)
    }

    private init(config: TrainingConfig, directory: String, checkpoint: Checkpoint?) throws {
        self.config = config
        self.directory = directory
        let seq = config.model.seq
        corpus = try config.loadCorpus()
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
            try optimizer.importState(checkpoint.optimizerState)
            sampler.restore(checkpoint.sampler)
            step = checkpoint.step
        } else {
            try FilePath.makeDirectories(directory)
            try AtomicFile.write(config.json.serialized(pretty: true) + "\n", to: directory + "/config.json")
        }
        inputs = .allocate(capacity: config.batch * seq)
        targets = .allocate(capacity: config.batch * seq)
        log = try MetricsLog(path: directory + "/metrics.jsonl", keepingStepsThrough: checkpoint.map(\.step))
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
            step += 1
            let now = monotonicSeconds()
            let tokensPerSecond = Double((step - lastLogStep) * B * T) / max(now - lastLogTime, 1e-9)
            progress?(TrainingProgress(step: step, steps: config.steps, loss: loss, tokensPerSecond: tokensPerSecond, elapsedSeconds: now - started))
            if step % config.logEvery == 0 || step == config.steps {
                try log.append(try logRecord(loss: loss, gradNorm: gradNorm, tokensPerSecond: tokensPerSecond))
                lastLogTime = monotonicSeconds()
                lastLogStep = step
            }
            if config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < config.steps {
                try checkpoint().write(to: directory + "/" + Trainer.checkpointName)
            }
        }
        guard step == config.steps else {
            try checkpoint().write(to: directory + "/" + Trainer.checkpointName)
            return nil
        }
        try checkpoint().write(to: directory + "/" + Trainer.finalName)
        let summary = try summaryRecord(wallSeconds: monotonicSeconds() - started)
        try AtomicFile.write(summary.serialized(pretty: true) + "\n", to: directory + "/summary.json")
        return summary
    }

    public func checkpoint() -> Checkpoint {
        Checkpoint(config: config, step: step, parameters: model.parameters, optimizer: optimizer, sampler: sampler.state)
    }

    /// The global gradient norm (Double, index order), after which gradients are scaled to `gradClip`
    /// if it is exceeded. A non-finite norm names the first tensor with a non-finite gradient.
    private func clipGradients() throws -> Double {
        var sum = 0.0
        for value in model.gradients.storage { sum += Double(value) * Double(value) }
        let norm = sum.squareRoot()
        guard norm.isFinite else {
            let layout = model.gradients.layout
            let name = layout.specs.indices.first { !model.gradients.view($0).allSatisfy(\.isFinite) }.map { layout.specs[$0].name } ?? "?"
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
        ProbeReport(model: model, probe: probe, metrics: config.metrics)
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
        return .object(members + probe.perTapMembers)
    }

    /// Mean token cross-entropy over the fixed validation windows (summed in Double in window order).
    public func validationLoss() throws -> Double {
        try meanWindowLoss(model: model, windows: windows, batch: config.batch)
    }

    private func summaryRecord(wallSeconds: Double) throws -> JSONValue {
        let validation = try validationLoss()
        // The W8A8-naive perplexity of SPEC §7 on the same windows, all in one forward call so the dynamic
        // activation scale spans the whole evaluation set: the number the paper's quantisation claims are
        // about, recorded for every run.
        let quantised = try QuantizedEvaluation.evaluate(config: config.model, parameters: model.parameters, windows: windows,
                                                         settings: .naive8, batch: windows.count, calibration: nil)
        let probe = probeMeasurements()
        let blas = BLASInfo.current
        let members: [JSONMember] = [
            JSONMember("steps", .int(Int64(step))),
            JSONMember("final_loss", .double(probe.loss)),
            JSONMember("val_loss", .double(validation)),
            JSONMember("val_ppl", .double(exp(validation))),
            JSONMember("val_ppl_w8a8_naive", .double(quantised.pplQuant)),
            JSONMember("w8a8_naive_ratio", .double(quantised.ratio)),
            JSONMember("wall_time_s", .double(wallSeconds)),
            JSONMember("tokens_per_s", .double(Double(step * config.batch * config.model.seq) / max(wallSeconds, 1e-9))),
            JSONMember("parameters", .int(Int64(model.parameters.layout.parameterCount))),
            JSONMember("blas", .object(["config": .string(blas.config), "core": .string(blas.coreName), "threads": .int(Int64(blas.threads))])),
            JSONMember("harness_version", .string(Harness.version)),
            JSONMember("corpus", corpus.summary),
        ]
        return .object(members + probe.summaryMembers)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
