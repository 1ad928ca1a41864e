import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

/// The kurtosis-update decomposition is a diagnostic that costs one probe forward pass per step, so the
/// planner computes it only on runs a claim reads `u42_share` from (AuditPlan's `PlanBuilder`).
@Suite("The planner computes the kurtosis-update decomposition only where a claim reads it")
struct DecompositionPlanningTests {
    /// Two claims on the same Pre-LN arm: one reads kurtosis (and its arm asks for the decomposition),
    /// the other, when `withShare`, reads `u42_share` from an arm that does not ask for it.
    static func registry(withShare: Bool) throws -> ClaimRegistry {
        let share = withShare ? """
        ,
          {"id": "share", "statement": "u42 dominates", "paper": "§5", "paper_says": "u42 dominates", "origin": {"kind": "paper"},
           "arms": [{"name": "Pre-LN", "config": {}}, {"name": "OP", "config": {"block": "op"}}],
           "metric": {"series": "u42_share"}, "predicate": {"kind": "ratio", "pairs": [["Pre-LN", "OP"]], "at_least": 1.2}}
        """ : ""
        let json = """
        \(tinyRegistryBase(steps: 12, logEvery: 4, evalWindows: 4))
         "scales": {"quick": {"seeds": [1, 2]}, "full": {"seeds": [1, 2]}},
         "claims": [
          {"id": "kurt", "statement": "OP lower", "paper": "§3", "paper_says": "OP ≪ Pre-LN", "origin": {"kind": "paper"},
           "arms": [{"name": "Pre-LN", "config": {"kurtosis_decomposition": true}}, {"name": "OP", "config": {"block": "op"}}],
           "metric": {"series": "kurtosis"}, "predicate": {"kind": "ratio", "pairs": [["Pre-LN", "OP"]], "at_least": 1.0}}\(share)
         ]}
        """
        return try ClaimRegistry(json: try JSONValue.parse(json, source: "decomposition registry"))
    }

    @Test("an arm that asks for the decomposition does not get it when no claim reads it")
    func armRequestAloneIsIgnored() throws {
        let plan = try AuditPlan(registry: try Self.registry(withShare: false), scale: .quick, corpus: .synthetic)
        #expect(plan.runs.count == 4, "2 arms × 2 seeds, got \(plan.runs.count)")
        for run in plan.runs { #expect(!run.config.kurtosisDecomposition, "\(run.uses)") }
    }

    @Test("a claim reading u42_share turns it on in exactly the runs it uses, shared with claims that do not read it")
    func readerTurnsItOnAndRunsStayShared() throws {
        let plan = try AuditPlan(registry: try Self.registry(withShare: true), scale: .quick, corpus: .synthetic)
        // Both claims use the same Pre-LN and OP runs: the decomposition flag must not split them.
        #expect(plan.runs.count == 4, "2 arms × 2 seeds shared by both claims, got \(plan.runs.count)")
        let byKey = Dictionary(uniqueKeysWithValues: plan.runs.map { ($0.key, $0) })
        for claimRuns in plan.claims {
            for (arm, seeds) in claimRuns.runKeys {
                for (seed, key) in seeds {
                    let run = try #require(byKey[key], "\(claimRuns.claim.id) / \(arm) / \(seed) points to no planned run")
                    #expect(run.config.kurtosisDecomposition, "\(claimRuns.claim.id) / \(arm) / \(seed): the share claim reads every run")
                    #expect(run.key == RunSpec.cacheKey(run.config, corpusFingerprint: plan.corpus.fingerprint),
                            "the key must be the final config's, or the cache would train one config under another's name")
                }
            }
        }
    }

    @Test("reports show an arm's config without the keys the planner decides, and keep every other key")
    func reportsDropPlannerKeys() throws {
        let claim = try #require(try Self.registry(withShare: false).claims.first)
        let preLN = try #require(claim.arm(named: "Pre-LN")), op = try #require(claim.arm(named: "OP"))
        #expect(preLN.config.contains { $0.key == "kurtosis_decomposition" }, "the fixture's arm must ask for it")
        #expect(preLN.reportedConfig.isEmpty, "\(preLN.reportedConfig)")
        #expect(op.reportedConfig.map(\.key) == ["block"], "\(op.reportedConfig)")
    }

    @Test("the bundled registry computes it at no scale except on runs of a claim that reads u42_share")
    func bundledRegistry() throws {
        let registry = try ClaimRegistry.bundled()
        for scale in AuditScale.allCases where registry.scales[scale] != nil {
            let plan = try AuditPlan(registry: registry, scale: scale, corpus: .synthetic)
            var readers = Set<String>()
            for claimRuns in plan.claims + [plan.study].compactMap({ $0 }) {
                let metrics = [claimRuns.claim.metric, claimRuns.claim.against].compactMap { $0 } + claimRuns.claim.preconditions.map(\.metric)
                guard metrics.contains(where: { $0.source == .series(RunRecord.u42ShareKey) }) else { continue }
                readers.formUnion(claimRuns.runKeys.values.flatMap(\.values))
            }
            for run in plan.runs {
                #expect(run.config.kurtosisDecomposition == readers.contains(run.key), "\(scale.rawValue): \(run.uses.first ?? run.key)")
            }
            if scale == .regime {
                #expect(readers.isEmpty && plan.runs.count == 30, "no regime claim reads u42_share; \(plan.runs.count) runs")
            }
            if scale == .quick {
                #expect(!readers.isEmpty, "u42-dominates-under-adam runs at the quick scale and must get its series")
            }
        }
    }
}
