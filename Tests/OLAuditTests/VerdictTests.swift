import Testing
@testable import OLAudit
@testable import OLCore

/// The one verdict rule: mean decides, seeds straddling the threshold or failures make it inconclusive.
@Suite("Verdicts")
struct VerdictTests {
    let ratio = Predicate(kind: .ratio([ArmPair("pre", "op")]), comparison: .atLeast(2))

    @Test("every seed and the mean above the threshold: held")
    func held() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 3, "op": 1], ["pre": 2.5, "op": 1]])
        #expect(judgement.verdict == .held)
        #expect(abs(judgement.statistic - 2.75) < 1e-12)
        #expect(judgement.seedStatistics == [3, 2.5])
    }

    @Test("every seed and the mean below the threshold: not reproduced")
    func notReproduced() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 1.2, "op": 1], ["pre": 1.1, "op": 1]])
        #expect(judgement.verdict == .notReproduced)
    }

    @Test("seeds on both sides of the threshold: inconclusive, and the reason says so")
    func straddling() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 3, "op": 1], ["pre": 1.5, "op": 1]])
        #expect(judgement.verdict == .inconclusive)
        #expect(judgement.reason.contains("overlaps the threshold"))
    }

    @Test("a failed or diverged run makes the claim inconclusive whatever the numbers")
    func failure() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 30, "op": 1]], failures: ["pre seed 1: loss is nan"])
        #expect(judgement.verdict == .inconclusive)
        #expect(judgement.reason.contains("loss is nan"))
    }

    @Test("an undefined statistic (missing arm) is inconclusive, never held")
    func undefined() {
        #expect(Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 3]]).verdict == .inconclusive)
    }

    @Test("one seed decides by its value and says there is no spread")
    func singleSeed() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 2.2, "op": 1]])
        #expect(judgement.verdict == .held)
        #expect(judgement.reason.contains("one seed"))
    }

    @Test("changing a threshold in the registry JSON flips the verdict on the same measurements")
    func thresholdFlips() throws {
        func registry(threshold: Double) throws -> ClaimRegistry {
            try ClaimRegistry(json: try JSONValue.parse("""
            {"base": {"width": 16, "layers": 1, "heads": 2, "seq": 8, "steps": 4, "batch": 2},
             "scales": {"quick": {"seeds": [0, 1]}, "full": {"seeds": [0, 1, 2]}},
             "claims": [{"id": "op-lower", "statement": "s", "paper": "§3", "paper_says": "p",
               "arms": [{"name": "pre", "config": {}}, {"name": "op", "config": {"block": "op"}}],
               "metric": {"series": "kurtosis", "excess": true},
               "predicate": {"kind": "ratio", "pairs": [["pre", "op"]], "at_least": \(threshold)}}]}
            """))
        }
        let arms = [
            ArmResult(name: "pre", values: [0: 0.9, 1: 0.8], againstValues: [:], runDirectories: [:], failures: []),
            ArmResult(name: "op", values: [0: 0.3, 1: 0.3], againstValues: [:], runDirectories: [:], failures: []),
        ]
        let strict = try registry(threshold: 3.5), lenient = try registry(threshold: 2)
        #expect(AuditJudging.judge(claim: strict.claims[0], seeds: [0, 1], arms: arms).judgement.verdict == .notReproduced)
        #expect(AuditJudging.judge(claim: lenient.claims[0], seeds: [0, 1], arms: arms).judgement.verdict == .held)
        let edited = strict.replacingThreshold(of: "op-lower", with: 2)
        #expect(AuditJudging.judge(claim: edited.claims[0], seeds: [0, 1], arms: arms).judgement.verdict == .held)
    }
}
