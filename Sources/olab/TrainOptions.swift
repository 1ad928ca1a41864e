import ArgumentParser
import OLCore
import OLModel
import OLTraining

/// Flags for every `TrainingConfig` field. A flag given on the command line overrides `--config FILE`,
/// which overrides the defaults.
struct TrainOptions: ParsableArguments {
    @Option(help: "JSON config file; flags override its values.") var config: String?
    @Option(help: "Residual block: preLN|preRMS|preSRMS|postLN|op|noNorm.") var block: String?
    @Option(help: "Model width d.") var width: Int?
    @Option(help: "Number of blocks L.") var layers: Int?
    @Option(help: "Attention heads H (must divide the width).") var heads: Int?
    @Option(help: "Context length T (size of the position table).") var seq: Int?
    @Option(help: "MLP activation: relu|gelu.") var activation: String?
    @Option(help: "Tie the LM head to the token embedding: true|false.") var tiedHead: Bool?
    @Option(help: "Final norm before the head: true|false (default: on for pre-norm blocks).") var finalNorm: Bool?
    @Option(help: "Initial branch weight of op/noNorm blocks (default 1/sqrt(L)).") var betaInit: Double?
    @Option(help: "Train the branch weights: true|false.") var trainableBeta: Bool?
    @Option(help: "tanh soft-cap of attention logits (noNorm only).") var softCap: Double?
    @Option(help: "Std of the N(0, std^2) weight initialisation.") var initStd: Double?
    @Option(help: "Clipped softmax (Bondarenko et al. 2023): alpha, with gamma = -alpha/seq (default: off).") var clippedSoftmaxAlpha: Double?
    @Option(help: "Clipped softmax: zeta >= 1 (default 1; needs --clipped-softmax-alpha).") var clippedSoftmaxZeta: Double?
    @Flag(inversion: .prefixedNo, help: "Gated attention (Bondarenko et al. 2023): each head's output times a learned per-token sigmoid gate.") var gatedAttention: Bool?
    @Option(help: "Optimiser: sgd|adamw|adafactor|soap|rotated-adafactor|adam-random-rotation.") var optimizer: String?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "beta1 (momentum).") var beta1: Double?
    @Option(help: "beta2 (second moment).") var beta2: Double?
    @Option(help: "Adam epsilon.") var eps: Double?
    @Option(help: "AdamW epsilon convention: torch|hf.") var epsConvention: String?
    @Option(help: "Decoupled weight decay.") var weightDecay: Double?
    @Option(help: "SGD momentum.") var momentum: Double?
    @Option(help: "SGD Nesterov momentum: true|false.") var nesterov: Bool?
    @Option(help: "SOAP basis refresh period f.") var preconditionFrequency: Int?
    @Option(help: "SOAP statistics decay (default: beta2).") var shampooBeta: Double?
    @Option(help: "SOAP family: precondition the embeddings and tied head like matrices: true|false (default true).") var preconditionEmbeddings: Bool?
    @Option(help: "Warm-up length as a fraction of the steps.") var warmupFraction: Double?
    @Option(help: "Decay after warm-up: linear|cosine.") var schedule: String?
    @Option(help: "Rate at the end of the decay as a fraction of the peak, in [0, 1] (default 0).") var finalLrFraction: Double?
    @Option(help: "Global gradient-norm clip (0 disables).") var gradClip: Double?
    @Option(help: "Schedule length in steps.") var steps: Int?
    @Option(help: "Sequences per batch B.") var batch: Int?
    @Option(help: "Run seed.") var seed: UInt64?
    @Option(help: "'synthetic' or a text file or directory.") var corpus: String?
    @Option(help: "Size of the synthetic corpus in bytes.") var syntheticBytes: Int?
    @Option(help: "Fraction of the corpus used for training.") var trainFraction: Double?
    @Flag(inversion: .prefixedNo, help: "A BOS token (id 256, vocabulary 257) at position 0 of every crop, evaluation window and probe row.") var bos: Bool?
    @Option(help: "Where training crops start: none|line (right after a newline).") var cropAlign: String?
    @Option(help: "Log probe loss and metrics every k steps.") var logEvery: Int?
    @Option(help: "Write a checkpoint every N steps (0: only at the end).") var checkpointEvery: Int?
    @Option(help: "Validation windows for perplexity.") var evalWindows: Int?
    @Option(help: "Sequences in the fixed probe batch.") var probeBatch: Int?
    @Option(help: "Compute outlier metrics when logging: true|false.") var metrics: Bool?
    @Flag(inversion: .prefixedNo, help: "Also log the metrics of every linear layer's input per block (qkv, attn_proj, fc, mlp_proj).") var linearTaps: Bool?
    @Option(help: "Log the cumulative kurtosis-update decomposition per tap: true|false (one extra probe pass per step).") var kurtosisDecomposition: Bool?
    @Flag(inversion: .prefixedNo, help: "Also log where the outliers live: max |x| and max/median at position 0 and elsewhere per tap, attention mass on key 0, peak max/median per linear input.") var diagnostics: Bool?

    /// The config these flags describe, validated.
    func resolve() throws -> TrainingConfig {
        var json: [JSONMember] = []
        if let path = config {
            let parsed = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
            guard let members = parsed.objectMembers else { throw OutlierLabError("\(path): a config must be a JSON object") }
            json = members
        }
        func set(_ key: String, _ value: (some CommandLineValue)?) {
            guard let value else { return }
            json.removeAll { $0.key == key }
            json.append(JSONMember(key, value.json))
        }
        set("block", block)
        set("width", width)
        set("layers", layers)
        set("heads", heads)
        set("seq", seq)
        set("activation", activation)
        set("tied_head", tiedHead)
        set("final_norm", finalNorm)
        set("beta_init", betaInit)
        set("trainable_beta", trainableBeta)
        set("soft_cap", softCap)
        set("init_std", initStd)
        set("clipped_softmax_alpha", clippedSoftmaxAlpha)
        set("clipped_softmax_zeta", clippedSoftmaxZeta)
        set("gated_attention", gatedAttention)
        set("optimizer", optimizer)
        set("lr", lr)
        set("beta1", beta1)
        set("beta2", beta2)
        set("eps", eps)
        set("eps_convention", epsConvention)
        set("weight_decay", weightDecay)
        set("momentum", momentum)
        set("nesterov", nesterov)
        set("precondition_frequency", preconditionFrequency)
        set("shampoo_beta", shampooBeta)
        set("precondition_embeddings", preconditionEmbeddings)
        set("warmup_fraction", warmupFraction)
        set("schedule", schedule)
        set("final_lr_fraction", finalLrFraction)
        set("grad_clip", gradClip)
        set("steps", steps)
        set("batch", batch)
        set("seed", seed)
        set("corpus", corpus)
        set("synthetic_bytes", syntheticBytes)
        set("train_fraction", trainFraction)
        set("bos", bos)
        set("crop_align", cropAlign)
        set("log_every", logEvery)
        set("checkpoint_every", checkpointEvery)
        set("eval_windows", evalWindows)
        set("probe_batch", probeBatch)
        set("metrics", metrics)
        set("linear_taps", linearTaps)
        set("kurtosis_decomposition", kurtosisDecomposition)
        set("diagnostics", diagnostics)
        return try TrainingConfig(json: .object(json), source: config ?? "command line")
    }
}

/// An option value as `config.json` spells it.
protocol CommandLineValue { var json: JSONValue { get } }
extension Int: CommandLineValue { var json: JSONValue { .int(Int64(self)) } }
extension UInt64: CommandLineValue { var json: JSONValue { .int(Int64(bitPattern: self)) } }
extension Double: CommandLineValue { var json: JSONValue { .double(self) } }
extension Bool: CommandLineValue { var json: JSONValue { .bool(self) } }
extension String: CommandLineValue { var json: JSONValue { .string(self) } }
