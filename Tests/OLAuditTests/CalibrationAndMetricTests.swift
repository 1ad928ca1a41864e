import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

@Suite("Best-lr calibration, quantisation resolution, and the value, config and u₄₂ metrics")
struct CalibrationAndMetricTests {
    @Test("best-lr arms are chosen on the calibration seed by validation loss, and only then do their confirming runs exist")
    func bestLearningRateIsChosenOnTheCalibrationSeed() throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(bestLearningRateRegistryJSON))
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        #expect(!plan.isResolved)
        #expect(plan.families.count == 2, "Pre-LN and OP are two families; the study's OP arm shares OP's")
        #expect(plan.pendingRuns == 6, "2 families × 3 confirming seeds wait for their rates")
        #expect(plan.families.allSatisfy { $0.calibration.map(\.rate) == [0.001, 0.01, 0.03] })
        let directory = try scratchDirectory("best-lr")
        let runner = AuditRunner(plan: plan, outDirectory: directory, say: { _ in })
        let outcomes = try #require(try runner.run())
        let resolved = runner.plan
        #expect(resolved.isResolved)
        for family in resolved.families {
            // The independent choice: read every calibration run's summary from disk.
            let losses = try family.calibration.map { entry in
                (entry.rate, try #require(try JSONValue.parse(bytes: try FileBytes.read(directory + "/runs/\(entry.key)/summary.json"))["val_loss"]?.doubleValue))
            }
            let best = losses.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }!
            #expect(family.chosen == best.0, "\(family.uses): chose \(family.chosen ?? .nan), losses \(losses)")
            for entry in family.calibration {
                #expect(try RunSpec.load(directory + "/runs/\(entry.key).spec.json").config.seed == 0, "calibration runs use seed 0 only")
            }
        }
        let claim = try #require(resolved.claims.first { $0.claim.id == "best" })
        for (arm, seeds) in claim.runKeys {
            #expect(Set(seeds.keys) == [1, 2, 3], "\(arm) confirms on seeds 1–3, never the calibration seed")
            let family = try #require(resolved.families.first { $0.uses.contains("best / \(arm)") })
            for key in seeds.values {
                #expect(try RunSpec.load(directory + "/runs/\(key).spec.json").config.lr == family.chosen)
            }
        }
        let results = AuditJudging.judge(plan: resolved, outcomes: outcomes)
        #expect(results.allSatisfy { $0.judgement.statistic.isFinite }, "\(results.map(\.judgement.reason))")
        let sites = try #require(results.first { $0.claim.id == "sites" })
        for seed in sites.seeds {
            let run = try #require(sites.arms[0].runDirectories[seed])
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/" + run).filter { $0.contains("-site-") }
            #expect(files.count == 8, "one a8-only 4-bit evaluation per linear input (4 kinds × 2 layers): \(files)")
        }
        let report = AuditReport(plan: resolved, results: results, outcomes: outcomes, wallSeconds: 1)
        #expect(report.studyCells().count == 2 && report.studyCells().allSatisfy { $0.ratios.count == 3 })
        try report.write(to: directory)
        let json = try JSONValue.parse(bytes: try FileBytes.read(directory + "/report.json"))
        #expect(json["learning_rate_selection"]?.arrayValue?.count == 2)
        #expect(json["quantisation_study"]?.arrayValue?.count == 2)
        #expect((json["runs_wall_time_s"]?.doubleValue ?? 0) > 0, "the runs' own wall time is reported, cached or not")
        let markdown = try FileBytes.readText(directory + "/report.md")
        #expect(markdown.contains("Learning-rate selection") && markdown.contains("Quantisation study") && markdown.contains("kurtosis_centred"))
    }

    @Test("a registry asking for a best lr without a sweep, with a fixed lr too, or confirming on the calibration seed is refused", arguments: [
        #"{"base": {}, "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [1, 2, 3]}}, "claims": [CLAIM]}"#,
        #"{"base": {}, "lr_sweep": {"values": [0.01, 0.001], "calibration_seed": 0}, "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [0, 1, 2]}}, "claims": [CLAIM]}"#,
    ])
    func badBestLearningRates(template: String) throws {
        let claim = #"{"id": "c", "statement": "s", "paper": "p", "paper_says": "p", "origin": {"kind": "paper"}, "arms": [{"name": "a", "lr": "best", "config": {}}], "metric": {"summary": "val_loss"}, "predicate": {"kind": "value", "at_least": 0}}"#
        #expect(throws: OutlierLabError.self) { try ClaimRegistry(json: try JSONValue.parse(template.replacingOccurrences(of: "CLAIM", with: claim))) }
        let fixed = claim.replacingOccurrences(of: #""config": {}"#, with: #""config": {"lr": 0.1}"#)
        let sweep = #"{"base": {}, "lr_sweep": {"values": [0.01, 0.001], "calibration_seed": 0}, "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [1, 2, 3]}}, "claims": [CLAIM]}"#
        #expect(throws: OutlierLabError.self) { try ClaimRegistry(json: try JSONValue.parse(sweep.replacingOccurrences(of: "CLAIM", with: fixed))) }
        #expect(throws: Never.self) { try ClaimRegistry(json: try JSONValue.parse(sweep.replacingOccurrences(of: "CLAIM", with: claim))) }
    }

    /// Two arms of a quantised claim whose ratio passes clearly on every seed.
    static func quantisedArms(resolved: Bool) -> [OLAudit.ArmResult] {
        let interval: ClosedRange<Double> = resolved ? 0.01...0.03 : -0.01...0.03
        return ["pre", "op"].map { name in
            var arm = OLAudit.ArmResult(name: name, values: [:], againstValues: [:], runDirectories: [:], failures: [])
            for seed: UInt64 in [1, 2, 3] {
                arm.values[seed] = name == "pre" ? 1.02 + 0.001 * Double(seed) : 1.001
                arm.quantisationResolved[seed] = name == "pre" && resolved ? !interval.contains(0) : false
            }
            return arm
        }
    }

    @Test("a quantisation effect no run resolves over its evaluation windows is inconclusive, however clear the seed interval")
    func belowResolutionIsInconclusive() throws {
        let claim = Claim(id: "q", statement: "", paperLocation: "", paperSays: "", origin: .paper, arms: [ArmSpec(name: "pre", config: []), ArmSpec(name: "op", config: [])],
                          metric: MetricSpec(source: .quantised(QuantRequest(scheme: "w8a8-naive", bits: 8), .pplRatio)), against: nil,
                          predicate: Predicate(kind: .ratio([ArmPair("pre", "op")]), comparison: .atLeast(1.01)), scales: [:])
        let unresolved = AuditJudging.judge(claim: claim, seeds: [1, 2, 3], arms: Self.quantisedArms(resolved: false))
        #expect(unresolved.judgement.verdict == .inconclusive)
        #expect(unresolved.judgement.reason.contains("below the measurement's resolution"), "\(unresolved.judgement.reason)")
        let resolved = AuditJudging.judge(claim: claim, seeds: [1, 2, 3], arms: Self.quantisedArms(resolved: true))
        #expect(resolved.judgement.verdict == .held, "\(resolved.judgement.reason)")
    }

    @Test("the value predicate is the smallest value of its arms, nan when one is missing")
    func valuePredicate() {
        let predicate = Predicate(kind: .value(arms: []), comparison: .atLeast(0.5))
        #expect(predicate.statistic(["a": 0.7, "b": 0.6], allArms: ["a", "b"]) == 0.6)
        #expect(predicate.statistic(["a": 0.7], allArms: ["a", "b"]).isNaN)
    }

    @Test("a config metric reads the run's config, and an unset beta_init is the block's default 1/√L")
    func configMetric() throws {
        let record = RunRecord(directory: "r", log: [], summary: .object([]), config: .object(["lr": .double(0.003), "layers": .int(4)]))
        #expect(try MetricSpec(source: .config("lr")).value(in: record) == 0.003)
        #expect(try MetricSpec(source: .config("beta_init")).value(in: record) == 0.5)
        #expect(throws: OutlierLabError.self) { try MetricSpec(source: .config("eps")).value(in: record) }
    }

    @Test("the u₄₂ share is cum_u42 over the sum of the four |cum_u4k| per tap, from the logged decomposition")
    func u42Share() throws {
        func step(_ step: Int, _ u42: Double) -> JSONValue {
            .object([JSONMember("step", .int(Int64(step))), JSONMember("cum_u41", .array([.double(-1), .double(0)])),
                     JSONMember("cum_u42", .array([.double(u42), .double(2)])), JSONMember("cum_u43", .array([.double(0.5), .double(1)])),
                     JSONMember("cum_u44", .array([.double(0.5), .double(1)]))])
        }
        let record = RunRecord(directory: "r", log: [step(0, 0), step(10, 2)], summary: .object([]))
        let share = try MetricSpec(source: .series(RunRecord.u42ShareKey), taps: .tap(0), steps: .final).value(in: record)
        #expect(abs(share - 2.0 / 4.0) < 1e-15, "2 / (1 + 2 + 0.5 + 0.5)")
        #expect(try MetricSpec(source: .series(RunRecord.u42ShareKey), taps: .tap(1), steps: .final).value(in: record) == 0.5)
    }
}
