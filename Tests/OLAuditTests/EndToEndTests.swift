import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore

@Suite("End-to-end audit")
struct EndToEndTests {
    @Test("a two-claim audit on tiny models trains, judges, writes the report, and a second run is served from the cache")
    func auditTwice() throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(fixtureRegistryJSON))
        let directory = try scratchDirectory("e2e")
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        #expect(plan.runs.count == 9, "Pre-LN and OP are shared between the two claims: 3 arms × 3 seeds")
        var lines: [String] = []
        let first = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { lines.append($0) }).run())
        let firstResults = AuditJudging.judge(plan: plan, outcomes: first)
        #expect(firstResults.allSatisfy { $0.judgement.verdict != .notRun })
        #expect(firstResults.allSatisfy { $0.judgement.statistic.isFinite }, "\(firstResults.map(\.judgement.reason))")
        try AuditReport(plan: plan, results: firstResults, outcomes: first, wallSeconds: 1).write(to: directory)
        #expect(FilePath.exists(directory + "/report.md") && FilePath.exists(directory + "/report.html"))
        #expect(lines.contains { $0.contains("run 1/9") && $0.contains("ETA") })
        for run in plan.runs { #expect(FilePath.exists(directory + "/runs/\(run.key)/model.safetensors")) }

        lines = []
        let second = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { lines.append($0) }).run())
        for outcome in second.values {
            guard case .finished(_, let cached) = outcome else { Issue.record("a cached run failed"); continue }
            #expect(cached)
        }
        let secondResults = AuditJudging.judge(plan: plan, outcomes: second)
        #expect(zip(firstResults, secondResults).allSatisfy { $0.judgement == $1.judgement }, "cached results must judge identically")
        #expect(!lines.contains { $0.contains("training") })
    }

    @Test("an interrupted run with only a config is restarted and a failed run is remembered as failed")
    func partialAndFailed() throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(fixtureRegistryJSON))
        let directory = try scratchDirectory("partial")
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic, selected: ["op-lower"])
        try FilePath.makeDirectories(directory + "/" + plan.runs[0].relativeDirectory)
        try AtomicFile.write("{}", to: directory + "/" + plan.runs[0].relativeDirectory + "/config.json")
        try FilePath.makeDirectories(directory + "/" + plan.runs[1].relativeDirectory)
        try AtomicFile.write(#"{"error": "step 3: the training loss is nan"}"#, to: directory + "/" + plan.runs[1].relativeDirectory + "/" + AuditRunner.failureName)
        let outcomes = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { _ in }).run())
        guard case .finished? = outcomes[plan.runs[0].key] else { Issue.record("partial run was not retrained"); return }
        let results = AuditJudging.judge(plan: plan, outcomes: outcomes)
        let claim = try #require(results.first { $0.claim.id == "op-lower" })
        #expect(claim.judgement.verdict == .inconclusive)
        #expect(claim.judgement.reason.contains("loss is nan"))
        #expect(results.first { $0.claim.id == "quant" }?.judgement.verdict == .notRun)
    }

    @Test("a cached run whose output was edited after it finished is recomputed, not trusted", arguments: ["metrics.jsonl", "summary.json", "model.safetensors"])
    func editedCacheIsRecomputed(file: String) throws {
        let registry = try ClaimRegistry(json: try JSONValue.parse(fixtureRegistryJSON))
        let directory = try scratchDirectory("tampered")
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic, selected: ["op-lower"])
        _ = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { _ in }).run())
        let victim = directory + "/" + plan.runs[2].relativeDirectory + "/" + file
        var bytes = try FileBytes.read(victim)
        bytes[bytes.count / 2] ^= 0x01
        try AtomicFile.write(bytes, to: victim)
        var lines: [String] = []
        let outcomes = try #require(try AuditRunner(plan: plan, outDirectory: directory, say: { lines.append($0) }).run())
        #expect(lines.contains { $0.contains("1 of \(plan.runs.count) runs to execute") }, "\(lines)")
        #expect(lines.contains { $0.contains("failed its integrity check (\(file) changed since the run finished)") }, "\(lines)")
        guard case .finished(_, let cached)? = outcomes[plan.runs[2].key] else { Issue.record("the recomputed run did not finish"); return }
        #expect(!cached, "the edited run was trained again")
        #expect(BitwiseDifference.between(try FileBytes.read(victim), bytes) != nil, "the edit is gone")
    }
}
