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
    @Option(help: "Global gradient-norm clip (0 disables).") var gradClip: Double?
    @Option(help: "Schedule length in steps.") var steps: Int?
    @Option(help: "Sequences per batch B.") var batch: Int?
    @Option(help: "Run seed.") var seed: UInt64?
    @Option(help: "'synthetic' or a text file or directory.") var corpus: String?
    @Option(help: "Size of the synthetic corpus in bytes.") var syntheticBytes: Int?
    @Option(help: "Fraction of the corpus used for training.") var trainFraction: Double?
    @Option(help: "Log probe loss and metrics every k steps.") var logEvery: Int?
    @Option(help: "Write a checkpoint every N steps (0: only at the end).") var checkpointEvery: Int?
    @Option(help: "Validation windows for perplexity.") var evalWindows: Int?
    @Option(help: "Sequences in the fixed probe batch.") var probeBatch: Int?
    @Option(help: "Compute outlier metrics when logging: true|false.") var metrics: Bool?
    @Flag(inversion: .prefixedNo, help: "Also log the metrics of every linear layer's input per block (qkv, attn_proj, fc, mlp_proj).") var linearTaps: Bool?
    @Option(help: "Log the cumulative kurtosis-update decomposition per tap: true|false (one extra probe pass per step).") var kurtosisDecomposition: Bool?

    /// The config these flags describe, validated.
    func resolve() throws -> TrainingConfig {
        var json: [JSONMember] = []
        if let path = config {
            let parsed = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
            guard let members = parsed.objectMembers else { throw OutlierLabError("\(path): a config must be a JSON object") }
            json = members
        }
        func set(_ key: String, _ value: JSONValue?) {
            guard let value else { return }
            json.removeAll { $0.key == key }
            json.append(JSONMember(key, value))
        }
        set("block", block.map(JSONValue.string))
        set("width", width.map { .int(Int64($0)) })
        set("layers", layers.map { .int(Int64($0)) })
        set("heads", heads.map { .int(Int64($0)) })
        set("seq", seq.map { .int(Int64($0)) })
        set("activation", activation.map(JSONValue.string))
        set("tied_head", tiedHead.map(JSONValue.bool))
        set("final_norm", finalNorm.map(JSONValue.bool))
        set("beta_init", betaInit.map(JSONValue.double))
        set("trainable_beta", trainableBeta.map(JSONValue.bool))
        set("soft_cap", softCap.map(JSONValue.double))
        set("init_std", initStd.map(JSONValue.double))
        set("optimizer", optimizer.map(JSONValue.string))
        set("lr", lr.map(JSONValue.double))
        set("beta1", beta1.map(JSONValue.double))
        set("beta2", beta2.map(JSONValue.double))
        set("eps", eps.map(JSONValue.double))
        set("eps_convention", epsConvention.map(JSONValue.string))
        set("weight_decay", weightDecay.map(JSONValue.double))
        set("momentum", momentum.map(JSONValue.double))
        set("nesterov", nesterov.map(JSONValue.bool))
        set("precondition_frequency", preconditionFrequency.map { .int(Int64($0)) })
        set("shampoo_beta", shampooBeta.map(JSONValue.double))
        set("precondition_embeddings", preconditionEmbeddings.map(JSONValue.bool))
        set("warmup_fraction", warmupFraction.map(JSONValue.double))
        set("schedule", schedule.map(JSONValue.string))
        set("grad_clip", gradClip.map(JSONValue.double))
        set("steps", steps.map { .int(Int64($0)) })
        set("batch", batch.map { .int(Int64($0)) })
        set("seed", seed.map { .int(Int64(bitPattern: $0)) })
        set("corpus", corpus.map(JSONValue.string))
        set("synthetic_bytes", syntheticBytes.map { .int(Int64($0)) })
        set("train_fraction", trainFraction.map(JSONValue.double))
        set("log_every", logEvery.map { .int(Int64($0)) })
        set("checkpoint_every", checkpointEvery.map { .int(Int64($0)) })
        set("eval_windows", evalWindows.map { .int(Int64($0)) })
        set("probe_batch", probeBatch.map { .int(Int64($0)) })
        set("metrics", metrics.map(JSONValue.bool))
        set("linear_taps", linearTaps.map(JSONValue.bool))
        set("kurtosis_decomposition", kurtosisDecomposition.map(JSONValue.bool))
        return try TrainingConfig(json: .object(json), source: config ?? "command line")
    }
}
