import OLCore
import OLOptimizers

/// One `TrainingConfig` key: its name, type, range and help, written once in `TrainingConfig.keys`,
/// which drives `config.json` (reading and writing), the `olab train` flags and the documented table
/// (`olab config keys --markdown`). The default is the value in `TrainingConfig()`.
public struct ConfigKey: Sendable {
    /// How `olab train` takes the key.
    public enum Flag: Sendable {
        /// `--name VALUE` (or `--name=VALUE`).
        case value
        /// `--name` sets it true, `--no-name` false.
        case toggle
        /// Only in a config file.
        case none
    }

    /// The `config.json` key (snake_case).
    public let name: String
    /// What the value is: "integer", "number", "true|false", the choices, ….
    public let type: String
    public let range: ValueRange
    /// One line for people: what the key does.
    public let help: String
    public let flag: Flag
    /// The optimiser hyper-parameter this key is, if it is one: only the optimisers that accept it take it.
    public let setting: OptimizerSetting?
    /// Added after runs were first cached, with a default that keeps the old behaviour bit for bit: left
    /// out of `config.json` while it holds that default (`TrainingConfig.keysAddedWithPreservingDefault`).
    public let omittedAtDefault: Bool
    let read: @Sendable (inout TrainingConfig, JSONValue, String) throws -> Void
    let write: @Sendable (TrainingConfig) -> JSONValue
    /// The numbers the range applies to (none for text, flags, and unset optional values).
    let numbers: @Sendable (TrainingConfig) -> [Double]
    /// A flag's text as the JSON value it stands for, nil when it is not of the key's type.
    let flagValue: @Sendable (String) -> JSONValue?

    init<T: ConfigValue>(_ name: String, _ path: WritableKeyPath<TrainingConfig, T> & Sendable, _ help: String, range: ValueRange = .any,
                         flag: Flag = .value, omittedAtDefault: Bool = false, setting: OptimizerSetting? = nil) {
        self.name = name
        self.type = T.typeName
        self.range = range
        self.help = help
        self.flag = flag
        self.setting = setting
        self.omittedAtDefault = omittedAtDefault
        read = { config, value, source in config[keyPath: path] = try T(value, name, source) }
        write = { $0[keyPath: path].json }
        numbers = { $0[keyPath: path].numbers }
        flagValue = T.flagValue
    }

    /// An optimiser hyper-parameter, named by the optimisers' own spelling of it.
    init<T: ConfigValue>(_ setting: OptimizerSetting, _ path: WritableKeyPath<TrainingConfig, T> & Sendable, _ help: String,
                         range: ValueRange = .any) {
        self.init(setting.rawValue, path, help, range: range, setting: setting)
    }

    /// The command-line spelling: `--name` with dashes.
    public var flagName: String { "--" + name.replacingOccurrences(of: "_", with: "-") }

    /// Whether `config` sets this key away from its default.
    func isSet(in config: TrainingConfig) -> Bool { write(config) != write(TrainingConfig()) }
}

/// The values a numeric key allows; its `text` completes "… must be".
public enum ValueRange: Sendable, Equatable {
    case any
    case positive
    case nonNegative
    /// [0, 1].
    case unitInterval
    /// [0, 1): decay rates.
    case belowOne
    /// (0, 1).
    case openUnitInterval
    case atLeast(Double)

    public var text: String {
        switch self {
        case .any: ""
        case .positive: "positive"
        case .nonNegative: "a non-negative number"
        case .unitInterval: "in [0, 1]"
        case .belowOne: "in [0, 1)"
        case .openUnitInterval: "strictly between 0 and 1"
        case .atLeast(let low): "at least \(NumberText.general(low))"
        }
    }

    public func contains(_ x: Double) -> Bool {
        guard x.isFinite else { return self == .any }
        switch self {
        case .any: return true
        case .positive: return x > 0
        case .nonNegative: return x >= 0
        case .unitInterval: return (0...1).contains(x)
        case .belowOne: return x >= 0 && x < 1
        case .openUnitInterval: return x > 0 && x < 1
        case .atLeast(let low): return x >= low
        }
    }
}

extension TrainingConfig {
    /// Every key, in the order `config.json` lists them.
    public static let keys: [ConfigKey] = [
        ConfigKey("block", \.model.block, "Residual block."),
        ConfigKey("width", \.model.width, "Model width d (a multiple of heads).", range: .positive),
        ConfigKey("layers", \.model.layers, "Number of blocks L.", range: .positive),
        ConfigKey("heads", \.model.heads, "Attention heads H (must divide the width).", range: .positive),
        ConfigKey("seq", \.model.seq, "Context length T (size of the position table).", range: .positive),
        ConfigKey("activation", \.model.activation, "MLP activation."),
        ConfigKey("tied_head", \.model.tiedHead, "Tie the LM head to the token embedding."),
        ConfigKey("final_norm", \.model.finalNorm, "Final norm before the head (null: on for pre-norm blocks)."),
        ConfigKey("beta_init", \.model.betaInit, "Initial branch weight of op/noNorm blocks (null: 1/√L).", range: .positive),
        ConfigKey("trainable_beta", \.model.trainableBeta, "Train the branch weights."),
        ConfigKey("soft_cap", \.model.softCap,
                  "tanh soft-cap of attention logits (noNorm only; null: none).", range: .positive),
        ConfigKey("init_std", \.model.initStd, "Std of the N(0, std²) weight initialisation.", range: .positive),
        ConfigKey("clipped_softmax_alpha", \.model.clippedSoftmaxAlpha,
                  "Clipped softmax (Bondarenko et al. 2023): α, with γ = −α/seq (null: off).", range: .nonNegative, omittedAtDefault: true),
        ConfigKey("clipped_softmax_zeta", \.model.clippedSoftmaxZeta,
                  "Clipped softmax: ζ ≥ 1 (needs clipped_softmax_alpha).", range: .atLeast(1), omittedAtDefault: true),
        ConfigKey("gated_attention", \.model.gatedAttention,
                  "Gated attention (Bondarenko et al. 2023): each head's output times a learned per-token sigmoid gate.",
                  flag: .toggle, omittedAtDefault: true),
        ConfigKey("optimizer", \.optimizerKind, "Optimiser."),
        ConfigKey("lr", \.lr, "Peak learning rate of the schedule (null: the optimiser's default).", range: .nonNegative),
        ConfigKey(.beta1, \.beta1, "β₁, the first-moment decay (null: the optimiser's default).", range: .belowOne),
        ConfigKey(.beta2, \.beta2, "β₂, the second-moment decay (null: the optimiser's default).", range: .belowOne),
        ConfigKey(.eps, \.eps, "Adam ε (null: the optimiser's default).", range: .nonNegative),
        ConfigKey(.epsConvention, \.epsilonConvention,
                  "Where ε enters the update: torch (AdamW's default) or hf (the only one AdaFactor and the SOAP family implement)."),
        ConfigKey("weight_decay", \.weightDecay,
                  "Decoupled weight decay; SGD's L2 penalty (null: the optimiser's default).", range: .nonNegative),
        ConfigKey(.momentum, \.momentum, "SGD momentum μ (null: the optimiser's default).", range: .belowOne),
        ConfigKey(.nesterov, \.nesterov, "SGD Nesterov momentum (null: off)."),
        ConfigKey(.preconditionFrequency, \.preconditionFrequency,
                  "SOAP family: basis refresh period f (null: the optimiser's default).", range: .atLeast(1)),
        ConfigKey(.shampooBeta, \.shampooBeta, "SOAP family: decay of the GG statistics (null: beta2).", range: .belowOne),
        ConfigKey(.preconditionEmbeddings, \.preconditionEmbeddings,
                  "SOAP family: rotate the embeddings and tied head like matrices; false is the ablation."),
        ConfigKey("warmup_fraction", \.warmupFraction, "Warm-up length as a fraction of the steps.", range: .unitInterval),
        ConfigKey("schedule", \.schedule, "Decay after warm-up."),
        ConfigKey("final_lr_fraction", \.finalLRFraction,
                  "Rate at the end of the decay as a fraction of the peak.", range: .unitInterval, omittedAtDefault: true),
        ConfigKey("grad_clip", \.gradClip, "Global gradient-norm clip (0 disables).", range: .nonNegative),
        ConfigKey("steps", \.steps, "Schedule length in optimiser steps.", range: .positive),
        ConfigKey("batch", \.batch, "Sequences per batch B.", range: .positive),
        ConfigKey("seed", \.seed, "Run seed."),
        ConfigKey("corpus", \.corpusSource, "The seeded synthetic corpus, or a text file or directory."),
        ConfigKey("synthetic_bytes", \.syntheticBytes, "Size of the synthetic corpus in bytes.", range: .atLeast(4096)),
        ConfigKey("train_fraction", \.trainFraction,
                  "Fraction of the corpus used for training; the rest is validation.", range: .openUnitInterval),
        ConfigKey("bos", \.bos,
                  "A BOS token (id 256, vocabulary 257) at position 0 of every crop, evaluation window and probe row.", flag: .toggle, omittedAtDefault: true),
        ConfigKey("crop_align", \.cropAlign,
                  "Where training crops start: anywhere, or right after a newline.", omittedAtDefault: true),
        ConfigKey("log_every", \.logEvery, "Log probe loss and metrics every k steps, and at the last step.", range: .positive),
        ConfigKey("checkpoint_every", \.checkpointEvery,
                  "Write a checkpoint every N steps (0: only at the end).", range: .nonNegative),
        ConfigKey("eval_windows", \.evalWindows, "Validation windows for perplexity.", range: .positive),
        ConfigKey("probe_batch", \.probeBatch,
                  "Sequences in the fixed probe batch the metrics are logged on.", range: .positive),
        ConfigKey("metrics", \.metrics, "Compute the outlier metrics when logging."),
        ConfigKey("linear_taps", \.linearTaps,
                  "Also log the metrics of every linear layer's input per block (qkv, attn_proj, fc, mlp_proj); needs metrics.", flag: .toggle),
        ConfigKey("kurtosis_decomposition", \.kurtosisDecomposition,
                  "Log the cumulative kurtosis-update decomposition per tap (one extra probe pass per step)."),
        ConfigKey("eval_at", \.evalAt,
                  "Steps strictly inside the schedule, increasing, at which sweep and audit runs also measure float and quantised perplexity.", flag: .none, omittedAtDefault: true),
        ConfigKey("diagnostics", \.diagnostics,
                  "Also log where the outliers live: position 0 against the rest per tap, attention mass on key 0, peak max/median per linear input.", flag: .toggle, omittedAtDefault: true),
    ]

    /// The key named `name`, if there is one.
    public static func key(_ name: String) -> ConfigKey? { keys.first { $0.name == name } }
}
