import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

@Suite("Claims registry and cache keys")
struct RegistryTests {
    @Test("the bundled registry parses and covers at least eighteen claims, every claim of the paper we audit among them")
    func bundledParses() throws {
        let registry = try ClaimRegistry.bundled()
        #expect(registry.claims.count >= 18)
        let ids = Set(registry.claims.map(\.id))
        for required in ["op-vs-preln-kurtosis", "op-vs-preln-kurtosis-every-lr", "norms-all-have-ofs", "lr-raises-kurtosis", "eps-lowers-kurtosis",
                         "residual-beta-lowers-kurtosis", "op-final-norm-ablation", "u42-dominates-under-adam", "soap-lowers-kurtosis",
                         "soap-lowers-kurtosis-every-lr", "rotated-adafactor-lowers-kurtosis", "adafactor-like-adamw", "eigenbasis-not-any-rotation",
                         "token-correlation-tracks-ofs", "mmr-tracks-kurtosis", "nonorm-entropy-collapse", "softcap-rescues-nonorm",
                         "of-reduction-keeps-loss", "kurtosis-predicts-w8a8", "kurtosis-predicts-a4", "site-attribution", "op-soap-quantises-best"] {
            #expect(ids.contains(required), "missing claim \(required)")
        }
    }

    @Test("the bundled registry compares optimisers under one ε convention: only the ε sweep uses torch's")
    func oneEpsilonConvention() throws {
        let registry = try ClaimRegistry.bundled()
        for claim in registry.claims {
            for arm in claim.arms {
                let config = try registry.config(claim: claim, arm: arm, scale: .quick, seed: 1, corpus: "synthetic", lr: arm.bestLearningRate ? 0.01 : nil)
                let expected = claim.id == "eps-lowers-kurtosis" ? "torch" : "hf"
                #expect(config.epsConvention == expected, "\(claim.id) / \(arm.name): \(config.epsConvention ?? "default")")
                if ["soap", "rotated-adafactor", "adam-random-rotation", "adafactor"].contains(config.optimizer) {
                    #expect(config.beta1 == 0.95 && config.beta2 == 0.95, "\(claim.id) / \(arm.name) must run on soap.py's documented betas")
                }
                if ["soap", "rotated-adafactor"].contains(config.optimizer) {
                    #expect(config.shampooBeta == 0.95, "\(claim.id) / \(arm.name) states its shampoo β, never inheriting β₂ silently")
                }
            }
        }
    }

    @Test("best-lr arms are chosen on the calibration seed, which no claim confirms on")
    func calibrationSeedIsDisjoint() throws {
        let registry = try ClaimRegistry.bundled()
        let sweep = try #require(registry.learningRateSweep)
        #expect(sweep.values.count >= 3)
        for claim in registry.claims where claim.arms.contains(where: \.bestLearningRate) {
            for scale in AuditScale.allCases { #expect(!registry.seeds(claim: claim, scale: scale).contains(sweep.calibrationSeed), "\(claim.id)") }
        }
    }

    @Test("every arm of every claim is a valid TrainingConfig at both scales, key by key")
    func armsAreValidConfigs() throws {
        let registry = try ClaimRegistry.bundled()
        for claim in registry.claims {
            for arm in claim.arms {
                // The arm's own keys parse on their own: no unknown keys, no wrong types.
                _ = try TrainingConfig(json: .object(arm.config), source: "\(claim.id)/\(arm.name)")
                for scale in AuditScale.allCases {
                    let config = try registry.config(claim: claim, arm: arm, scale: scale, seed: 7, corpus: "synthetic",
                                                     lr: arm.bestLearningRate ? registry.learningRateSweep?.values.first : nil)
                    #expect(config.seed == 7)
                    #expect(config.metrics, "claim \(claim.id) needs the outlier metrics logged")
                }
            }
        }
    }

    @Test("every claim has at least five confirming seeds at the quick and regime scales and eight at the full scale, none of them the calibration seed 0")
    func confirmingSeeds() throws {
        let registry = try ClaimRegistry.bundled()
        for claim in registry.claims {
            let quick = registry.seeds(claim: claim, scale: .quick)
            #expect(quick.isEmpty || quick.count >= 5, "\(claim.id): \(quick)")
            // The regime scale's runs are 30× a quick run's, so it confirms on five seeds to fit two hours.
            for (scale, least) in [(AuditScale.full, 8), (.regime, 5)] {
                let seeds = registry.seeds(claim: claim, scale: scale)
                #expect(seeds.isEmpty || seeds.count >= least, "\(claim.id) (\(scale.rawValue)): \(seeds)")
                #expect(!seeds.contains(0), "\(claim.id): seed 0 chose the settings and thresholds")
            }
            #expect(!quick.contains(0), "\(claim.id): seed 0 chose the settings and thresholds")
        }
    }

    @Test("a registry listing a seed twice is refused: a repeated seed would be reported as a spread of zero")
    func duplicateSeeds() {
        #expect(throws: OutlierLabError.self) {
            try ClaimRegistry(json: try JSONValue.parse(#"{"base": {}, "scales": {"quick": {"seeds": [1, 2, 1]}, "full": {"seeds": [1, 2, 3]}}, "claims": []}"#))
        }
    }

    @Test("the quick scale runs the core claims and every claim but the regime's own runs at the full scale")
    func scales() throws {
        let registry = try ClaimRegistry.bundled()
        let quick = Set(registry.claims.filter { !registry.seeds(claim: $0, scale: .quick).isEmpty }.map(\.id))
        for core in ["op-vs-preln-kurtosis", "soap-lowers-kurtosis", "lr-raises-kurtosis", "lr-raises-kurtosis-op",
                     "residual-beta-fixed-lowers-kurtosis", "kurtosis-predicts-w8a8", "kurtosis-predicts-w8a8-static"] {
            #expect(quick.contains(core), "quick scale must judge \(core)")
        }
        for claim in registry.claims where registry.seeds(claim: claim, scale: .full).isEmpty {
            #expect(!registry.seeds(claim: claim, scale: .regime).isEmpty, "\(claim.id) runs nowhere")
        }
    }

    @Test("a predicate naming an arm the claim does not have is rejected with the arm's name")
    func unknownArm() {
        #expect(throws: OutlierLabError.self) {
            try ClaimRegistry(json: try JSONValue.parse("""
            {"base": {}, "scales": {"quick": {"seeds": [0]}, "full": {"seeds": [0]}},
             "claims": [{"id": "c", "statement": "s", "paper": "p", "paper_says": "p", "origin": {"kind": "paper"}, "arms": [{"name": "a", "config": {}}],
               "metric": {"series": "kurtosis"}, "predicate": {"kind": "ratio", "pairs": [["a", "ghost"]], "at_least": 1}}]}
            """))
        }
    }

    @Test("an arm with a key TrainingConfig does not know is rejected")
    func unknownConfigKey() {
        #expect(throws: OutlierLabError.self) {
            try ClaimRegistry(json: try JSONValue.parse("""
            {"base": {}, "scales": {"quick": {"seeds": [0]}, "full": {"seeds": [0]}},
             "claims": [{"id": "c", "statement": "s", "paper": "p", "paper_says": "p", "origin": {"kind": "paper"}, "arms": [{"name": "a", "config": {"learning_rate": 1}}],
               "metric": {"series": "kurtosis"}, "predicate": {"kind": "ratio", "pairs": [["a", "a"]], "at_least": 1}}]}
            """))
        }
    }

    @Test("the cache key is stable for equal configs and changes with any config key or the corpus bytes")
    func cacheKey() throws {
        var config = TrainingConfig()
        config.corpus = "/some/path.txt"
        let key = RunSpec.cacheKey(config, corpusFingerprint: "abc")
        #expect(key == RunSpec.cacheKey(config, corpusFingerprint: "abc"))
        #expect(key.count == 64)
        var moved = config
        moved.corpus = "/elsewhere/same-bytes.txt"
        #expect(RunSpec.cacheKey(moved, corpusFingerprint: "abc") == key, "the key follows the corpus bytes, not its path")
        #expect(RunSpec.cacheKey(config, corpusFingerprint: "abd") != key)
        var changed = config
        changed.eps = 1e-4
        #expect(RunSpec.cacheKey(changed, corpusFingerprint: "abc") != key)
        changed = config
        changed.seed = 1
        #expect(RunSpec.cacheKey(changed, corpusFingerprint: "abc") != key)
        changed = config
        changed.model.width = 32
        #expect(RunSpec.cacheKey(changed, corpusFingerprint: "abc") != key)
    }

    @Test("identical arms in different claims share one planned run")
    func sharing() throws {
        let registry = try ClaimRegistry.bundled()
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        let uses = plan.runs.reduce(0) { $0 + $1.uses.count }
        #expect(plan.runs.count < uses, "the quick plan should reuse runs across claims")
        #expect(Set(plan.runs.map(\.key)).count == plan.runs.count)
    }

    @Test("selecting an unknown claim id is an error naming the known ids")
    func unknownSelection() throws {
        let registry = try ClaimRegistry.bundled()
        #expect(throws: OutlierLabError.self) { try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic, selected: ["nope"]) }
    }
}
