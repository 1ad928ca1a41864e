import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns
@testable import OLTraining
import OLQuant

@Suite("Audit v3: untestable verdicts, derived seeds, the regime scale")
struct AuditV3Tests {
    static let predicate = Predicate(kind: .ratio([ArmPair("pre", "op")]), comparison: .atLeast(2))

    /// A claim on arms "pre" and "op" whose precondition reads "pre" at `level`.
    static func claim(level: Double) -> Claim {
        Claim(id: "c", statement: "", paperLocation: "", paperSays: "", origin: .paper,
              arms: [ArmSpec(name: "pre", config: []), ArmSpec(name: "op", config: [])], metric: MetricSpec(source: .summary("val_loss")),
              against: nil, predicate: predicate, scales: [:],
              preconditions: [ClaimPrecondition(kind: .outlierFeatures, arm: "pre", metric: MetricSpec(source: .series("kurtosis"), taps: .max),
                                                comparison: .atLeast(level))])
    }

    /// Arms whose per-seed ratio pre/op is `ratios`, with the precondition's metric at 3 on every seed.
    static func arms(ratios: [Double]) -> [ArmResult] {
        let seeds: [UInt64] = Array(1...UInt64(ratios.count))
        var pre = ArmResult(name: "pre", values: Dictionary(uniqueKeysWithValues: zip(seeds, ratios)), againstValues: [:], runDirectories: [:], failures: [])
        pre.preconditionValues[0] = Dictionary(uniqueKeysWithValues: seeds.map { ($0, 3.0) })
        let op = ArmResult(name: "op", values: Dictionary(uniqueKeysWithValues: seeds.map { ($0, 1.0) }), againstValues: [:], runDirectories: [:], failures: [])
        return [pre, op]
    }

    @Test("a failed precondition makes a claim untestable whatever its predicate says, naming it and by how much",
          arguments: [[3.0, 2.5, 2.8, 2.9, 2.7], [1.2, 1.1, 1.3, 1.2, 1.0], [3.0, 1.5, 2.2, 1.0, 2.9]])
    func failedPreconditionIsUntestable(ratios: [Double]) throws {
        let seeds: [UInt64] = [1, 2, 3, 4, 5]
        let plain = AuditJudging.judge(claim: Self.claim(level: 1), seeds: seeds, arms: Self.arms(ratios: ratios)).judgement
        #expect(plain.verdict != .untestable, "a met precondition leaves the predicate's verdict: \(plain.reason)")
        #expect(plain.preconditions.count == 1 && plain.preconditions[0].met)
        let result = AuditJudging.judge(claim: Self.claim(level: 5), seeds: seeds, arms: Self.arms(ratios: ratios))
        let judgement = result.judgement
        #expect(judgement.verdict == .untestable, "the predicate read \(plain.verdict.rawValue); the precondition decides first")
        #expect(judgement.reason.contains("outlier features") && judgement.reason.contains("pre's kurtosis"), "\(judgement.reason)")
        // Mean 3 against a level of 5: short by 2, 0.6× the level.
        #expect(judgement.reason.contains("short by 2") && judgement.reason.contains("0.6× the level"), "\(judgement.reason)")
        #expect(judgement.testP == nil, "no test was made, so the claim leaves the Holm family")
        let holm = AuditJudging.withHolm([result])
        #expect(holm[0].judgement.holmP == nil && holm[0].judgement.verdict == .untestable)
    }

    @Test("a positive control whose seeds do not resolve their effect fails even above its level")
    func unresolvedControlFails() {
        let control = ClaimPrecondition(kind: .positiveControl, arm: "pre",
                                        metric: MetricSpec(source: .quantised(QuantRequest(scheme: "w8a8-static", bits: 8, planted: 32), .pplRatio)),
                                        comparison: .atLeast(1.01))
        #expect(control.check(values: [1.2, 1.3, 1.25], resolved: [true, true, true]).met)
        let check = control.check(values: [1.2, 1.3, 1.25], resolved: [true, false, true])
        #expect(!check.met)
        #expect(check.text.contains("1 of 3 seed(s) do not resolve it"), "\(check.text)")
        #expect(!control.check(values: [1.001, 1.002, 1.0], resolved: [true, true, true]).met, "resolved but below the claim's effect size")
    }

    @Test("a planted channel is detected by the positive control under the claim's own quantisation protocol")
    func plantedChannelIsDetected() throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(preconditionRegistryJSON.replacingOccurrences(of: "LEVEL", with: "1")))
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        let planted = QuantRequest(scheme: "a8-only", bits: 4, planted: 64), plain = QuantRequest(scheme: "a8-only", bits: 4)
        let preRuns = plan.runs.filter { $0.config.model.block == .preLN }
        #expect(preRuns.count == 3 && preRuns.allSatisfy { $0.quantisations == [planted, plain] }, "the control runs on the Pre-LN arm only")
        #expect(plan.runs.filter { $0.config.model.block == .op }.allSatisfy { $0.quantisations == [plain] })
        let directory = try scratchDirectory("planted")
        let outcomes = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { _ in }).run())
        let results = AuditJudging.judge(plan: plan, outcomes: outcomes)
        let control = try #require(results[0].judgement.preconditions.first { $0.precondition.kind == .positiveControl })
        #expect(control.met, "\(control.text)")
        for key in preRuns.map(\.key) {
            guard case .finished(let record, _)? = outcomes[key] else { Issue.record("run \(key) did not finish"); continue }
            let withChannel = try #require(record.quantised[planted]), without = try #require(record.quantised[plain])
            // The planted model computes the same float function (power-of-two scaling is exact)...
            #expect(withChannel.floatPPL == without.floatPPL)
            // ...and its ×64 channel stretches the per-tensor 4-bit scale of every qkv and fc input: the
            // damage must exceed the unplanted model's by a margin far above the windows' resolution.
            #expect(withChannel.value(.pplRatio) > without.value(.pplRatio) + 0.05, "planted \(withChannel), plain \(without)")
            #expect(withChannel.isResolved == true)
        }
        // The same registry (same digest, same seeds, same runs) with the outlier level out of reach.
        var untestable = registry
        untestable.claims[0].preconditions[0].comparison = .atLeast(1000)
        let again = AuditJudging.judge(plan: try AuditPlan(registry: untestable, scale: .quick, corpus: .synthetic), outcomes: outcomes)
        #expect(again[0].judgement.verdict == .untestable, "a kurtosis of 1000 is out of reach at d = 16: \(again[0].judgement.reason)")
        let report = AuditReport(plan: plan, results: again, outcomes: outcomes, wallSeconds: 1)
        try report.write(to: directory, replace: true)
        let json = try JSONValue.parse(bytes: try FileBytes.read(directory + "/report.json"))
        let claim = try #require(json["claims"]?.arrayValue?.first)
        #expect(claim["verdict"]?.stringValue == "untestable at this scale")
        #expect(claim["preconditions"]?.arrayValue?.map { $0["met"]?.boolValue } == [false, true])
        #expect(try FileBytes.readText(directory + "/report.md").contains("untestable at this scale"))
    }

    @Test("planting needs a Pre-LN or Pre-RMS block and a power-of-two factor, refused in one line otherwise")
    func plantingRefusals() throws {
        let config = TrainingConfig().model
        let parameters = FloatArena(layout: config.parameterLayout())
        #expect(rejectionMessage { try OutlierPlanting.plant(parameters, config: config, factor: 3) }?.contains("power of two") == true)
        var op = config
        op.block = .op
        let error = rejectionMessage { try OutlierPlanting.plant(FloatArena(layout: op.parameterLayout()), config: op, factor: 32) }
        #expect(error?.contains("needs a Pre-LN or Pre-RMS block") == true, "\(error ?? "accepted")")
    }

    @Test("confirming seeds derive from the registry's SHA-256: the same registry gets the same seeds, a changed one fresh seeds")
    func derivedSeeds() throws {
        let text = preconditionRegistryJSON.replacingOccurrences(of: "LEVEL", with: "5")
        let registry = try ClaimRegistry(json: try JSONValue.parse(text))
        let claim = registry.claims[0]
        let seeds = registry.seeds(claim: claim, scale: .quick)
        #expect(seeds.count == 3 && Set(seeds).count == 3)
        #expect(!seeds.contains(registry.calibrationSeed), "the calibration seed is never confirming")
        #expect(try ClaimRegistry(json: try JSONValue.parse(text)).seeds(claim: claim, scale: .quick) == seeds, "deterministic")
        let changed = try ClaimRegistry(json: try JSONValue.parse(text.replacingOccurrences(of: "\"at_least\": 0.5", with: "\"at_least\": 0.6")))
        #expect(changed.sha256 != registry.sha256)
        let fresh = changed.seeds(claim: changed.claims[0], scale: .quick)
        // Seeds are drawn from 10⁶ values: two registries share one with probability about 9e-6.
        #expect(Set(fresh).isDisjoint(with: seeds), "changed registry \(fresh), original \(seeds)")
        #expect(registry.derivedSeeds(count: 8).prefix(3) == seeds[...], "the quick scale's seeds are the first of a longer run")
    }

    @Test("a scale sets seeds or derives them, not both")
    func seedsOrDerived() throws {
        let error = rejectionMessage {
            _ = try ClaimRegistry(json: try JSONValue.parse(#"{"base": {}, "scales": {"quick": {"seeds": [1], "confirming_seeds": 5}, "full": {"seeds": [1]}}, "claims": []}"#))
        }
        #expect(error?.contains("sets both seeds and confirming_seeds") == true, "\(error ?? "accepted")")
    }

    @Test("the bundled registry confirms on at least five derived seeds at the quick and regime scales and eight at the full scale")
    func bundledSeeds() throws {
        let registry = try ClaimRegistry.bundled()
        #expect(registry.scales[.quick]?.confirmingSeeds ?? 0 >= 5)
        #expect(registry.scales[.full]?.confirmingSeeds ?? 0 >= 8)
        #expect(registry.scales[.regime]?.confirmingSeeds ?? 0 >= 5)
        #expect(registry.derivedSeeds(count: 8) == registry.seeds(claim: registry.claims[0], scale: .full))
    }

    @Test("every bundled quantisation claim declares an outlier-features precondition and a planted positive control under its own protocol")
    func quantisationClaimsHavePreconditions() throws {
        let registry = try ClaimRegistry.bundled()
        let quantised = registry.claims.filter { [$0.metric, $0.against].compactMap { $0 }.contains(where: \.isQuantised) }
        #expect(quantised.count >= 6)
        for claim in quantised {
            let kinds = Set(claim.preconditions.map(\.kind))
            #expect(kinds == [.outlierFeatures, .positiveControl], "\(claim.id)")
            let protocols = Set([claim.metric, claim.against].compactMap { $0 }.flatMap { $0.quantRequests(layers: 1) }.map { "\($0.scheme)/\($0.bits)" })
            for control in claim.preconditions where control.kind == .positiveControl {
                guard case .quantised(let request, _) = control.metric.source else { Issue.record("\(claim.id): not quantised"); continue }
                #expect(protocols.contains("\(request.scheme)/\(request.bits)"), "\(claim.id): the control uses the claim's scheme and bits")
            }
        }
    }

    @Test("the bundled registry holds the figures audit v3 adds, each with an origin and a threshold")
    func newClaims() throws {
        let registry = try ClaimRegistry.bundled()
        for id in ["emergence-preln-grows", "emergence-op-stays-flat", "depth-preln-outliers-late", "lr-raises-kurtosis-op",
                   "residual-beta-fixed-lowers-kurtosis", "adamw-at-soap-betas-keeps-ofs", "token-correlation-grows-with-depth",
                   "kurtosis-predicts-w8a8-static", "op-vs-preln-kurtosis-every-lr", "soap-lowers-kurtosis-every-lr", "static-6bit-preln-vs-op"] {
            let claim = try #require(registry.claims.first { $0.id == id }, "missing \(id)")
            #expect(claim.predicate.comparison.threshold.isFinite)
            #expect(AuditScale.allCases.contains { !registry.seeds(claim: claim, scale: $0).isEmpty }, "\(id) runs at some scale")
        }
        let fixed = try #require(registry.claims.first { $0.id == "residual-beta-fixed-lowers-kurtosis" })
        for arm in fixed.arms {
            let config = try registry.config(claim: fixed, arm: arm, scale: .quick, seed: 1, corpus: "synthetic")
            #expect(!config.model.trainableBeta, "\(arm.name): β is fixed, as in the paper's code")
        }
        let emergence = try #require(registry.claims.first { $0.id == "emergence-preln-grows" })
        #expect(registry.seeds(claim: emergence, scale: .quick).isEmpty && emergence.statement.contains("full"),
                "emergence needs more tokens than the quick scale has, and says so")
    }

    @Test("the regime scale trains 12,500 steps with BOS at d = 64, L = 4, T = 64, B = 16, lr 1e-2 decaying linearly to 10 %")
    func regimeScale() throws {
        let registry = try ClaimRegistry.bundled()
        let plan = try AuditPlan(registry: registry, scale: .regime, corpus: .synthetic)
        #expect(!plan.runs.isEmpty && plan.isResolved)
        for run in plan.runs {
            let c = run.config
            #expect(c.steps == 12_500 && c.bos && c.finalLRFraction == 0.1 && c.lr == 0.01 && c.schedule == .linear, "\(run.uses[0])")
            #expect(c.model.width == 64 && c.model.layers == 4 && c.model.seq == 64 && c.batch == 16)
            // 12,500 steps × 16 × 64 tokens = 12.8 M tokens, where the study resolves static 6-bit damage
            // for every arm (Pre-LN ×1.22–1.26, OP ×1.06–1.10 at seed 0).
            #expect(c.steps * c.batch * c.model.seq == 12_800_000)
        }
        let arms = Set(plan.claims.flatMap { $0.runKeys.keys })
        #expect(arms.isSuperset(of: ["Pre-LN + AdamW", "OP + AdamW", "Pre-LN + SOAP", "OP + SOAP",
                                     "Pre-LN + clipped softmax", "Pre-LN + gated attention"]))
        // Claims share an arm's runs when its config is the same: six trained arms, one run per seed each,
        // so adding the remedy claims (issue 30) costs two arms, not a second baseline or OP + SOAP.
        #expect(Set(arms).count == 6 && plan.runs.count == 6 * 5, "\(plan.runs.count) runs for arms \(arms.sorted())")
        let static6 = try #require(plan.claims.first { $0.claim.id == "static-6bit-preln-vs-op" })
        #expect(static6.seeds.count >= 5)
        #expect(static6.claim.metric.quantRequests(layers: 4) == [QuantRequest(scheme: "w8a8-static", bits: 6)])
        let quick = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        #expect(plan.estimatedSeconds > 5 * quick.estimatedSeconds, "regime \(plan.estimatedSeconds) s, quick \(quick.estimatedSeconds) s")
        #expect(quick.claims.first { $0.claim.id == "static-6bit-preln-vs-op" }?.runKeys.isEmpty == true, "regime-only claims stay out of quick")
    }

    @Test("growth is the tail mean over the first fifth's mean, and depth ρ ranks the block outputs without the embedding tap")
    func growthAndDepth() throws {
        // Taps: embedding (largest, left out of the depth rank), then blocks 1–3 rising with depth; tap 1
        // equals step / 10, so its first fifth (steps 10, 20) averages 1.5 and its last fifth (80–100) 9.
        let log: [JSONValue] = stride(from: 0, through: 100, by: 10).map { step in
            let s = Double(step) / 10
            return .object([JSONMember("step", .int(Int64(step))),
                            JSONMember("kurtosis", .array([.double(50), .double(s), .double(s + 1), .double(s + 2)]))])
        }
        let run = RunRecord(directory: "synthetic", log: log, summary: .object([]))
        let growth = try MetricSpec(source: .series("kurtosis"), taps: .tap(1), steps: .growth).value(in: run)
        #expect(abs(growth - 9 / 1.5) < 1e-12, "\(growth)")
        let depth = try MetricSpec(source: .series("kurtosis"), taps: .depthRho, steps: .final).value(in: run)
        #expect(abs(depth - 1) < 1e-12, "blocks rise with depth; the embedding's 50 is not ranked: \(depth)")
        let error = rejectionMessage {
            _ = try ClaimRegistry(json: try JSONValue.parse(preconditionRegistryJSON.replacingOccurrences(of: "LEVEL", with: "5")
                .replacingOccurrences(of: #""taps": "max", "steps": "final"}"#, with: #""taps": 1, "steps": "growth", "excess": true}"#)))
        }
        #expect(error?.contains("does not apply to a rank over depth or a growth ratio") == true, "\(error ?? "accepted")")
    }

    @Test("a registry without a regime scale parses, and planning it is one clear error")
    func regimeIsOptional() throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(preconditionRegistryJSON.replacingOccurrences(of: "LEVEL", with: "5")))
        #expect(registry.scales[.regime] == nil)
        let error = rejectionMessage { _ = try AuditPlan(registry: registry, scale: .regime, corpus: .synthetic) }
        #expect(error == "the claims registry defines no 'regime' scale (it has quick, full)")
    }
}
