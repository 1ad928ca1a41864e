import OLCore
import OLData
import OLModel
import OLOptimizers

/// Everything that determines a training run. Serialised as `config.json` in the run directory and in
/// checkpoint metadata; two runs with equal configs (and the same binary and machine) are bit-identical.
/// Optimiser hyper-parameters left nil take the optimiser's own defaults (OLOptimizers' Optimizers article).
public struct TrainingConfig: Sendable, Equatable {
    /// The model; its `vocab` follows `bos` (257 with a BOS token, 256 without), whatever is assigned.
    public var model = ModelConfig() {
        didSet { model.vocab = TokenLayout.vocabulary(bos: bos) }
    }
    /// The optimiser (config spelling in `optimizer`).
    public var optimizerKind: OptimizerKind = .adamw
    /// Peak learning rate; nil means the optimiser's default (OLOptimizers' Optimizers article: 1e-3 AdamW, 3e-3 SOAP, ...).
    public var lr: Double? = nil
    public var beta1: Double? = nil
    public var beta2: Double? = nil
    public var eps: Double? = nil
    /// AdamW ε placement: torch (ε added to √v̂) or hf; nil: AdamW's default (torch).
    public var epsilonConvention: EpsConvention? = nil
    public var weightDecay: Double? = nil
    /// SGD momentum and Nesterov switch.
    public var momentum: Double? = nil
    public var nesterov: Bool? = nil
    /// SOAP / rotated AdaFactor basis refresh period f and statistics decay β_s.
    public var preconditionFrequency: Int? = nil
    public var shampooBeta: Double? = nil
    /// SOAP family: rotate the embeddings (and the tied head) like matrices, as soap.py does; false is the
    /// ablation (plain Adam / AdaFactor on them) and applies to those optimisers only. Always written to
    /// `config.json`, so every run records which it used.
    public var preconditionEmbeddings = true
    /// Warm-up length as a fraction of `steps`.
    public var warmupFraction = 0.05
    public var schedule: LearningRateSchedule.Decay = .linear
    /// The rate the decay ends at, as a fraction of the peak (0: decay to 0; 0.1: "cosine decay to 10 %").
    public var finalLRFraction = 0.0
    /// Global gradient-norm clip (0 disables).
    public var gradClip = 1.0
    /// Schedule length in optimiser steps.
    public var steps = 200
    /// Sequences per batch B.
    public var batch = 8
    public var seed: UInt64 = 0
    /// The synthetic corpus or a file/directory (config spelling in `corpus`).
    public var corpusSource: CorpusSource = .synthetic
    /// Size of the synthetic corpus in bytes.
    public var syntheticBytes = 1 << 20
    /// Fraction of corpus bytes used for training; the rest is validation.
    public var trainFraction = 0.95
    /// A BOS token (id 256) at position 0 of every training crop, evaluation window and probe row; the
    /// vocabulary becomes 257 (`TokenLayout` has the row convention).
    public var bos = false {
        didSet { model.vocab = TokenLayout.vocabulary(bos: bos) }
    }
    /// Where training crops start: anywhere (`none`) or right after a newline (`line`).
    public var cropAlign: CropAlignment = .none
    /// Log (probe loss and metrics) every k steps, and at the last step.
    public var logEvery = 10
    /// Write a checkpoint every N steps (0: only at the end).
    public var checkpointEvery = 100
    /// Number of validation windows of length seq for perplexity.
    public var evalWindows = 16
    /// Sequences in the fixed probe batch used for logging metrics.
    public var probeBatch = 4
    /// Compute the outlier metrics at each log step.
    public var metrics = true
    /// Also log the metrics of every linear layer's input per block (qkv, attn_proj, fc, mlp_proj: what
    /// W8A8 quantises); needs `metrics`.
    public var linearTaps = false
    /// Accumulate the kurtosis-update decomposition (OLMetrics' Metrics article) of every step on the probe batch and log its
    /// running totals per tap; costs one probe forward pass per step.
    public var kurtosisDecomposition = false
    /// Steps strictly inside the schedule, increasing, at which sweep and audit runs also measure float
    /// and every requested quantised perplexity (`evaluations.jsonl`); empty: only at the end.
    public var evalAt: [Int] = []
    /// Log where the outliers live at each log step: per residual tap max|x| and max/median at position 0
    /// and elsewhere, attention mass on key 0 per layer, peak max/median per linear input (`ProbeReport`).
    public var diagnostics = false

    public init() {}
}

extension TrainingConfig {
    /// The steps through `step` that a run of this config logs to `metrics.jsonl`, in order: step 0
    /// (before training), every multiple of `logEvery`, and the last step of the schedule.
    public func loggedSteps(through step: Int) -> [Int] {
        var steps = [0] + Array(stride(from: logEvery, through: step, by: logEvery))
        if step >= self.steps && self.steps % logEvery != 0 { steps.append(self.steps) }
        return steps
    }
}

extension TrainingConfig {
    /// The optimiser's config spelling (`OptimizerKind.rawValue`).
    public var optimizer: String { optimizerKind.rawValue }
    /// The ε convention's config spelling, nil when unset.
    public var epsConvention: String? { epsilonConvention?.rawValue }
    /// The corpus's config spelling: "synthetic" or the path; setting it parses the same spelling.
    public var corpus: String {
        get { corpusSource.spelling }
        set { corpusSource = CorpusSource(spelling: newValue) }
    }

    /// How this config cuts rows from the corpus: BOS token and crop alignment.
    public var tokenLayout: TokenLayout { TokenLayout(bos: bos, cropAlign: cropAlign) }

    /// The learning-rate schedule of a run of this config.
    public func learningRateSchedule() throws -> LearningRateSchedule {
        LearningRateSchedule(peak: lr ?? OptimizerConfig.defaults(for: optimizerKind).learningRate, steps: steps, warmupFraction: warmupFraction,
                             decay: schedule, finalFraction: finalLRFraction)
    }

    /// The corpus this config trains on, split at `train_fraction`.
    public func loadCorpus() throws -> ByteCorpus {
        try corpusSource.load(syntheticBytes: syntheticBytes, trainFraction: trainFraction)
    }
}
