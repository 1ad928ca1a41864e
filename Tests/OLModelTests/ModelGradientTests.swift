import OLTestSupport
import Testing
@testable import OLCore
import OLKernels
@testable import OLModel

/// A tiny model and a fixed batch for whole-model checks.
struct TinyModel {
    let model: GPT
    let tokens: [Int32]
    let targets: [Int32]
    let B = 2, T = 6

    init(block: BlockKind, activation: Activation = .gelu, softCap: Double? = nil, tied: Bool = true, seed: UInt64 = 1,
         configure: (inout ModelConfig) -> Void = { _ in }) throws {
        var config = ModelConfig(width: 8, layers: 2, heads: 2, seq: 6, block: block)
        config.activation = activation
        config.softCap = softCap
        config.tiedHead = tied
        configure(&config)
        config.initStd = 0.3  // large weights make every path carry signal, so a dropped term shows
        model = try GPT(config: config, seed: seed, maxBatch: 2)
        var rng = RandomStream(seed: seed, purpose: "tests")
        tokens = (0..<12).map { _ in Int32(rng.nextInt(below: 256)) }
        targets = (0..<12).map { _ in Int32(rng.nextInt(below: 256)) }
        // Move norm gains, biases and β off their initial values so their gradients are generic.
        for (index, spec) in model.parameters.layout.specs.enumerated() where spec.role == .vector || spec.role == .scalar {
            let view = model.parameters.view(index)
            for i in view.indices { view[i] += Float(0.2 * rng.nextNormal()) }
        }
    }

    func loss() -> Double {
        tokens.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in model.forward(tokens: x, targets: y, B: B, T: T)! }
        }
    }
}

@Suite("Whole-model gradients")
struct ModelGradientTests {
    /// Central differences of the loss along a random unit direction inside one parameter tensor, against
    /// the analytic directional derivative g·v. The loss is accumulated in Double; the difference quotient
    /// is formed in Double. h = 1e-2 keeps float32 rounding of the loss (≈1e-6 absolute) below 1e-4 of
    /// the quotient, while the O(h²) truncation stays ≈1e-4 relative for these smooth (GELU) models.
    /// `only` restricts the check to the named tensors (all of them when nil).
    static func check(_ tiny: TinyModel, tolerance: Double = 2e-3, only: Set<String>? = nil) {
        let model = tiny.model
        model.zeroGradients()
        _ = tiny.loss()
        model.backward()
        var rng = RandomStream(seed: 99, purpose: "tests")
        for (index, spec) in model.parameters.layout.specs.enumerated() {
            if spec.role == .scalar && !model.config.trainableBeta { continue }
            if let only, !only.contains(spec.name) { continue }
            let params = model.parameters.view(index)
            let grads = model.gradients.view(index)
            var direction = (0..<spec.count).map { _ in rng.nextNormal() }
            let norm = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
            direction = direction.map { $0 / norm }
            let analytic = zip(grads, direction).reduce(0.0) { $0 + Double($1.0) * $1.1 }
            let saved = Array(params)
            let h = 1e-2
            for i in params.indices { params[i] = Float(Double(saved[i]) + h * direction[i]) }
            let plus = tiny.loss()
            for i in params.indices { params[i] = Float(Double(saved[i]) - h * direction[i]) }
            let minus = tiny.loss()
            _ = params.update(fromContentsOf: saved)
            let numeric = (plus - minus) / (2 * h)
            let budget = tolerance * max(abs(numeric), abs(analytic)) + 2e-4
            #expect(abs(numeric - analytic) <= budget,
                    "\(model.config.block.rawValue) \(spec.name): numeric \(numeric) analytic \(analytic)")
        }
    }

    @Test("every parameter's gradient matches finite differences", arguments: BlockKind.allCases)
    func blocks(block: BlockKind) throws {
        Self.check(try TinyModel(block: block))
    }

    @Test("the ReLU model's gradients match finite differences away from kinks")
    func relu() throws {
        Self.check(try TinyModel(block: .preLN, activation: .relu))
    }

    @Test("noNorm's block-0 LayerNorm is in the model and its gain and bias gradients match finite differences")
    func noNormFirstLayerNorm() throws {
        let tiny = try TinyModel(block: .noNorm)
        let names = tiny.model.parameters.layout.specs.map(\.name)
        #expect(names.contains("h0.ln0.g") && names.contains("h0.ln0.b"))
        Self.check(tiny, only: ["h0.ln0.g", "h0.ln0.b"])
    }

    @Test("noNorm with logit soft-capping and an untied head has correct gradients")
    func softCapUntied() throws {
        Self.check(try TinyModel(block: .noNorm, softCap: 30, tied: false))
    }

    @Test("with a clipped softmax and gated attention every parameter's gradient matches finite differences",
          arguments: [BlockKind.preLN, .op])
    func remedies(block: BlockKind) throws {
        // α = 1.2 at T = 6: γ = −0.2, so keys below p = 0.2/1.2 ≈ 0.17 are clipped to 0 (rows of ≥ 6 keys
        // always have one); the directional step h = 1e-2 carries no entry across a kink in this seeded model.
        let tiny = try TinyModel(block: block) { config in
            config.clippedSoftmaxAlpha = 1.2
            config.gatedAttention = true
        }
        let names = tiny.model.parameters.layout.specs.map(\.name)
        #expect(names.contains("h1.attn.gate") && names.contains("h1.attn.gate.b"))
        Self.check(tiny)
    }

    @Test("the clipped softmax really clips in that model: some probabilities become exact zeros")
    func clippedSoftmaxClips() throws {
        let tiny = try TinyModel(block: .preLN) { $0.clippedSoftmaxAlpha = 1.2 }
        _ = tiny.loss()
        let clipped = tiny.model.acts.view("h0.attclip")
        var zeros = 0
        for b in 0..<tiny.B { for h in 0..<2 { for i in 0..<tiny.T { for j in 0...i where clipped[((b * 2 + h) * tiny.T + i) * tiny.T + j] == 0 { zeros += 1 } } } }
        #expect(zeros > 0, "no causal entry was clipped to 0")
    }

    /// Loss and gradients of one forward and backward pass of `make()`'s model on `workers` workers.
    static func lossAndGradients(workers: Int, _ make: () throws -> TinyModel) throws -> (Double, [Float]) {
        try Parallel.withWorkers(workers) {
            let tiny = try make()
            tiny.model.zeroGradients()
            let loss = tiny.loss()
            tiny.model.backward()
            return (loss, Array(tiny.model.gradients.storage))
        }
    }

    /// The models whose bits must not depend on the worker count: OP, and Pre-LN with both of Bondarenko
    /// et al.'s remedies (clipped softmax, gated attention) on.
    enum DeterminismCase: String, CaseIterable, Sendable {
        case op = "OP", remedies = "Pre-LN with clipped softmax and gated attention"

        func make() throws -> TinyModel {
            switch self {
            case .op: try TinyModel(block: .op)
            case .remedies:
                try TinyModel(block: .preLN) { config in
                    config.clippedSoftmaxAlpha = 1.2
                    config.gatedAttention = true
                }
            }
        }
    }

    @Test("the same seed gives bit-identical loss and gradients with 1, 2 and 3 workers", arguments: DeterminismCase.allCases)
    func determinism(_ model: DeterminismCase) throws {
        let runs = try [1, 2, 3].map { try Self.lossAndGradients(workers: $0, model.make) }
        for (workers, run) in zip([2, 3], runs.dropFirst()) {
            #expect(run.0.bitPattern == runs[0].0.bitPattern, "\(model.rawValue): loss, \(workers) workers against 1")
            expectBitwiseEqual(run.1.map(\.bitPattern), runs[0].1.map(\.bitPattern), "\(model.rawValue): gradients, \(workers) workers against 1")
        }
    }

    @Test("the initial loss is close to log 256 for a small initialisation")
    func initialLoss() throws {
        var config = ModelConfig()
        config.width = 16; config.heads = 2; config.layers = 2; config.seq = 8
        let model = try GPT(config: config, seed: 3, maxBatch: 1)
        let tokens: [Int32] = (0..<8).map { Int32($0 * 31 % 256) }
        let targets: [Int32] = (0..<8).map { Int32(($0 * 77 + 5) % 256) }
        let loss = tokens.withUnsafeBufferPointer { x in targets.withUnsafeBufferPointer { model.forward(tokens: x, targets: $0, B: 1, T: 8)! } }
        // Logits have std ≈ 0.02·√16 = 0.08, so the softmax is nearly uniform; over 8 tokens the target
        // logit's mean fluctuates by ≈ 0.08/√8 ≈ 0.03: |loss − ln 256| < 0.1 is a 3σ bound.
        #expect(abs(loss - 5.545177444479562) < 0.1)
    }

    @Test("frozen branch weights receive no gradient")
    func frozenBeta() throws {
        var config = ModelConfig()
        config.width = 8; config.heads = 2; config.layers = 2; config.seq = 4
        config.block = .op
        config.trainableBeta = false
        let model = try GPT(config: config, seed: 1, maxBatch: 1)
        let tokens: [Int32] = [1, 2, 3, 4]
        _ = tokens.withUnsafeBufferPointer { model.forward(tokens: $0, targets: $0, B: 1, T: 4) }
        model.zeroGradients()
        model.backward()
        #expect(model.gradients.view("h1.beta_mlp")[0] == 0)
        #expect(model.gradients.view("h1.attn.q_norm").contains { $0 != 0 })
    }
}

@Suite("Activation buffers")
struct ActivationBufferTests {
    @Test("ReLU runs in place: its caches are one (N, 4d) activation per layer smaller than GELU's")
    func reluKeepsNoSeparateActivation() throws {
        var config = ModelConfig(width: 16, layers: 3, heads: 2, seq: 8, block: .preLN)
        config.activation = .relu
        let relu = try GPT(config: config, seed: 1, maxBatch: 4)
        config.activation = .gelu
        let gelu = try GPT(config: config, seed: 1, maxBatch: 4)
        // Arena tensors are padded to 16 floats; (N, 4d) = 32 × 64 floats is already a multiple.
        let activation = 4 * 8 * 4 * 16 * MemoryLayout<Float>.size
        #expect(gelu.cacheBytes - relu.cacheBytes == config.layers * activation,
                "GELU \(gelu.cacheBytes) B, ReLU \(relu.cacheBytes) B")
    }
}
