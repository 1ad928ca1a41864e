import OLTestSupport
import Testing
@testable import OLCore
@testable import OLModel
@testable import OLTraining

@Suite("Learning-rate schedule")
struct ScheduleTests {
    @Test("linear warm-up reaches the peak at the last warm-up step")
    func warmup() {
        let schedule = LearningRateSchedule(peak: 1e-3, steps: 100, warmupFraction: 0.05)
        #expect(schedule.warmupSteps == 5)
        // Exact: (k+1)/5 · 1e-3 in Double.
        for k in 0..<5 { #expect(schedule.rate(at: k) == 1e-3 * Double(k + 1) / 5) }
    }

    @Test("linear decay falls from the peak to zero one step past the last step trained")
    func linearDecay() {
        let schedule = LearningRateSchedule(peak: 2, steps: 10, warmupFraction: 0)
        #expect(schedule.rate(at: 0) == 2)
        #expect(schedule.rate(at: 5) == 1)  // 2·(1 − 5/10), exact in Double
        #expect(abs(schedule.rate(at: 9) - 0.2) < 1e-15)  // 2·(1 − 0.9), one rounding: the last step still trains
        #expect(schedule.rate(at: 10) == 0)
    }

    @Test("cosine decay is half the peak halfway and the floor at the end")
    func cosineDecay() {
        let schedule = LearningRateSchedule(peak: 1, steps: 100, warmupFraction: 0, decay: .cosine, finalFraction: 0.1)
        // 0.1 + 0.9·0.5·(1 + cos(π/2)) = 0.55; cos(π/2) is 6e-17 in Double.
        #expect(abs(schedule.rate(at: 50) - 0.55) < 1e-12)
        #expect(abs(schedule.rate(at: 100) - 0.1) < 1e-12)
    }

    @Test("no warm-up when the fraction is zero, and the rate never goes negative", arguments: LearningRateSchedule.Decay.allCases)
    func nonNegative(decay: LearningRateSchedule.Decay) {
        let schedule = LearningRateSchedule(peak: 3e-3, steps: 40, warmupFraction: 0, decay: decay)
        #expect(schedule.warmupSteps == 0)
        for step in 0..<60 { #expect(schedule.rate(at: step) >= 0) }
    }
}

@Suite("Training configuration")
struct TrainingConfigTests {
    @Test("a config survives JSON and back unchanged, including optional fields")
    func roundTrip() throws {
        var config = TrainingConfig()
        config.model.block = .op
        config.model.width = 48
        config.model.heads = 6
        config.optimizerKind = .soap
        config.beta2 = 0.999
        config.eps = 3e-4
        config.preconditionFrequency = 10
        config.seed = 12345
        config.schedule = .cosine
        let text = config.json.serialized(pretty: true)
        let parsed = try TrainingConfig(json: try JSONValue.parse(text))
        #expect(parsed == config)
    }

    @Test("the non-default form lists exactly the changed keys and reads back to the same config")
    func nonDefaultForm() throws {
        var config = TrainingConfig()
        config.model.width = 48
        config.model.heads = 6
        config.optimizerKind = .soap
        #expect(config.nonDefaultJSON.objectMembers?.map(\.key) == ["width", "heads", "optimizer"])
        #expect(try TrainingConfig(json: config.nonDefaultJSON) == config)
        #expect(TrainingConfig().nonDefaultJSON == .object([]))
    }

    @Test("precondition_embeddings is on by default, written to config.json, and false selects the SOAP-family ablation",
          arguments: ["soap", "rotated-adafactor", "adam-random-rotation"])
    func preconditionEmbeddingsSwitch(optimizer: String) throws {
        let standard = try TrainingConfig(json: try JSONValue.parse(#"{"optimizer": "\#(optimizer)"}"#))
        #expect(standard.json.objectMembers?.first { $0.key == "precondition_embeddings" }?.value == .bool(true))
        let ablation = try TrainingConfig(json: try JSONValue.parse(#"{"optimizer": "\#(optimizer)", "precondition_embeddings": false}"#))
        #expect(ablation.json.objectMembers?.first { $0.key == "precondition_embeddings" }?.value == .bool(false))
        for (config, expected) in [(standard, true), (ablation, false)] {
            guard case .rotated(let soap) = try config.optimizerConfig() else {
                Issue.record("\(optimizer) should build a SOAP-family config"); continue
            }
            #expect(soap.preconditionEmbeddings == expected)
        }
    }

    @Test("bad configs are rejected with one line naming the key", arguments: [
        (#"{"widht": 64}"#, "unknown key 'widht'"),
        (#"{"width": "64"}"#, "width must be an integer"),
        (#"{"width": 64, "heads": 5}"#, "width 64 is not divisible by heads 5"),
        (#"{"lr": -1}"#, "lr must be a non-negative number"),
        (#"{"block": "preLayerNorm"}"#, "block must be one of preLN|preRMS|preSRMS|postLN|op|noNorm"),
        (#"{"steps": 0}"#, "steps must be positive"),
        (#"{"seed": -3}"#, "seed must be a non-negative integer"),
        (#"{"soft_cap": 30}"#, "soft_cap applies to the noNorm block only"),
        (#"[1, 2]"#, "a config must be a JSON object"),
        (#"{"optimizer": "adamw", "precondition_frequency": 10}"#, "precondition_frequency does not apply to optimizer adamw"),
        (#"{"optimizer": "adamw", "precondition_embeddings": false}"#, "precondition_embeddings does not apply to optimizer adamw"),
        (#"{"optimizer": "lion"}"#, "optimizer must be one of sgd|adamw|adafactor|soap|rotated-adafactor|adam-random-rotation"),
    ])
    func rejects(text: String, expected: String) throws {
        do {
            _ = try TrainingConfig(json: try JSONValue.parse(text), source: "run.json")
            Issue.record("expected an error containing \(expected)")
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("run.json: "))
            #expect(error.message.contains(expected), "got: \(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }
}

@Suite("Parameter layout")
struct ParameterLayoutTests {
    @Test("the OP block has block-0 LayerNorm, QK-norm scales and branch weights, and no final norm")
    func opLayout() {
        let names = ModelConfig(width: 64, layers: 3, heads: 4, seq: 64, block: .op).parameterLayout().specs.map(\.name)
        #expect(names.contains("h0.ln0.g") && !names.contains("h1.ln0.g"))
        #expect(names.contains("h2.attn.q_norm") && names.contains("h2.attn.k_norm"))
        #expect(names.contains("h1.beta_attn") && names.contains("h1.beta_mlp"))
        #expect(!names.contains("lnf.g") && !names.contains("h0.ln1.g"))
    }

    @Test("the noNorm block keeps block 0's LayerNorm and branch weights but has no QK-norm scales or final norm")
    func noNormLayout() {
        let names = ModelConfig(width: 64, layers: 3, heads: 4, seq: 64, block: .noNorm).parameterLayout().specs.map(\.name)
        #expect(names.contains("h0.ln0.g") && names.contains("h0.ln0.b") && !names.contains("h1.ln0.g"))
        #expect(!names.contains { $0.hasSuffix("q_norm") || $0.hasSuffix("k_norm") })
        #expect(names.contains("h2.beta_attn") && !names.contains("lnf.g") && !names.contains("h0.ln1.g"))
    }

    @Test("pre-norm blocks have per-block norms and a final norm; SRMSNorm has no parameters")
    func preNormLayouts() {
        var model = ModelConfig()
        model.block = .preLN
        #expect(model.parameterLayout().specs.map(\.name).contains("lnf.b"))
        model.block = .preSRMS
        let names = model.parameterLayout().specs.map(\.name)
        #expect(!names.contains { $0.contains("ln") })
    }

    @Test("initialisation is seeded: same seed same bits, other seed other values, β at 1/√L")
    func initialisation() {
        var model = ModelConfig()
        model.block = .op
        model.layers = 4
        let layout = model.parameterLayout()
        let a = FloatArena(layout: layout), b = FloatArena(layout: layout), c = FloatArena(layout: layout)
        model.initialize(a, seed: 1)
        model.initialize(b, seed: 1)
        model.initialize(c, seed: 2)
        expectBitwiseEqual(Array(a.storage), Array(b.storage), "initial parameters")
        #expect(Array(a.view("wte")) != Array(c.view("wte")))
        #expect(a.view("h3.beta_mlp")[0] == Float(0.5))
        #expect(a.view("h0.ln0.g").allSatisfy { $0 == 1 } && a.view("h0.ln0.b").allSatisfy { $0 == 0 })
        // Sample std of 256·64 N(0, 0.02²) draws: relative standard error √(1/(2n)) ≈ 0.0055; 5σ bound.
        let wte = a.view("wte")
        let variance = wte.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(wte.count)
        #expect(abs(variance.squareRoot() / 0.02 - 1) < 5 * (1 / (2 * Double(wte.count))).squareRoot())
    }
}
