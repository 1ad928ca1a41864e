import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLMetrics

/// The one verdict rule: the 95 % Student-t interval of the per-seed statistics against the threshold;
/// failures, fewer than three seeds or an undefined statistic make it inconclusive.
@Suite("Verdicts")
struct VerdictTests {
    let ratio = Predicate(kind: .ratio([ArmPair("pre", "op")]), comparison: .atLeast(2))

    /// Per-seed values of the two arms, op fixed at 1 so the per-seed ratio is the pre value.
    static func seeds(_ pre: [Double]) -> [[String: Double]] { pre.map { ["pre": $0, "op": 1] } }

    @Test("an interval wholly above the threshold: held, with the interval in the judgement and the reason")
    func held() throws {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([3, 2.5, 2.8]))
        #expect(judgement.verdict == .held)
        #expect(abs(judgement.statistic - 2.7666666666666666) < 1e-12, "the statistic is the mean of the per-seed ratios")
        #expect(judgement.seedStatistics == [3, 2.5, 2.8])
        let interval = try #require(judgement.interval)
        // Student's t on 2 degrees of freedom: mean ± 4.302652729749464 · s/√3, s the seeds' sample SD;
        // 1e-9 is the quantile's bisection tolerance scaled by the half-width.
        let half = 4.302652729749464 * Statistics.standardDeviation([3, 2.5, 2.8]) / 3.0.squareRoot()
        #expect(abs(interval.lowerBound - (2.7666666666666666 - half)) < 1e-9 && abs(interval.upperBound - (2.7666666666666666 + half)) < 1e-9)
        #expect(judgement.reason.contains("95 % t interval"))
        #expect((judgement.testP ?? 1) < Judge.oneSidedAlpha, "held at the interval is the one-sided test at 2.5 %")
    }

    @Test("an interval wholly below the threshold: not reproduced")
    func notReproduced() {
        #expect(Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([1.2, 1.1, 1.3])).verdict == .notReproduced)
    }

    @Test("an interval that contains the threshold: inconclusive, and the reason says so")
    func straddling() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([3, 1.5, 2.2]))
        #expect(judgement.verdict == .inconclusive)
        #expect(judgement.reason.contains("contains the threshold"))
    }

    @Test("one seed's outcome flips the verdict: the same claim held with it above, inconclusive with it below")
    func seedOutcomeFlips() {
        #expect(Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([3, 2.6, 2.9, 2.7])).verdict == .held)
        #expect(Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([3, 2.6, 2.9, 0.7])).verdict == .inconclusive)
    }

    @Test("a failed or diverged run makes the claim inconclusive whatever the numbers")
    func failure() {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds([30, 30, 30]), failures: ["pre seed 1: loss is nan"])
        #expect(judgement.verdict == .inconclusive)
        #expect(judgement.reason.contains("loss is nan"))
    }

    @Test("an undefined statistic (missing arm) is inconclusive, never held")
    func undefined() {
        #expect(Judge.judge(ratio, arms: ["pre", "op"], seedValues: [["pre": 3], ["pre": 3], ["pre": 3]]).verdict == .inconclusive)
    }

    @Test("fewer than three seeds give no interval and no verdict, however clear the numbers", arguments: [1, 2])
    func tooFewSeeds(count: Int) {
        let judgement = Judge.judge(ratio, arms: ["pre", "op"], seedValues: Self.seeds(Array(repeating: 5, count: count)))
        #expect(judgement.verdict == .inconclusive && judgement.interval == nil)
        #expect(judgement.reason.contains("at least 3 are needed"))
    }

    @Test("a rank correlation above its threshold is held only when it beats chance")
    func correlationNeedsSignificance() {
        let spearman = Predicate(kind: .spearman(arms: []), comparison: .atLeast(0.6))
        // Three arms: ρ = 1 arises by chance for 1 of 3! orderings (p = 1/6): not significant.
        let three = ["a", "b", "c"]
        let small = Judge.judge(spearman, arms: three, seedValues: Array(repeating: ["a": 1, "b": 2, "c": 3], count: 3),
                                seedAgainst: Array(repeating: ["a": 10, "b": 20, "c": 30], count: 3))
        #expect(small.verdict == .inconclusive && abs((small.pValue ?? 0) - 1.0 / 6) < 1e-12, "\(small.reason)")
        // Six arms in perfect order: p = 1/720.
        let six = ["a", "b", "c", "d", "e", "f"]
        let values = Dictionary(uniqueKeysWithValues: six.enumerated().map { ($1, Double($0)) })
        let against = Dictionary(uniqueKeysWithValues: six.enumerated().map { ($1, Double($0 * $0)) })
        let large = Judge.judge(spearman, arms: six, seedValues: Array(repeating: values, count: 3), seedAgainst: Array(repeating: against, count: 3))
        #expect(large.verdict == .held && abs((large.pValue ?? 1) - 1.0 / 720) < 1e-12, "\(large.reason)")
    }

    @Test("the permutation p-value counts every ordering at least as extreme, in the claim's direction")
    func permutationCounts() {
        let values = ["a": 1.0, "b": 2, "c": 3, "d": 4]
        // against in reverse order: ρ = −1; for at_least, every ordering is at least −1 (p = 1); for
        // at_most, only the reverse ordering itself (p = 1/24).
        let against = ["a": 4.0, "b": 3, "c": 2, "d": 1]
        #expect(Judge.permutationPValue(values, against: against, arms: ["a", "b", "c", "d"], comparison: .atLeast(0)) == 1)
        #expect(abs(Judge.permutationPValue(values, against: against, arms: ["a", "b", "c", "d"], comparison: .atMost(0)) - 1.0 / 24) < 1e-12)
    }

    @Test("changing a threshold in the registry JSON flips the verdict on the same measurements")
    func thresholdFlips() throws {
        func registry(threshold: Double) throws -> ClaimRegistry {
            try ClaimRegistry(json: try JSONValue.parse("""
            {"base": {"width": 16, "layers": 1, "heads": 2, "seq": 8, "steps": 4, "batch": 2},
             "scales": {"quick": {"seeds": [0, 1, 2]}, "full": {"seeds": [0, 1, 2]}},
             "claims": [{"id": "op-lower", "statement": "s", "paper": "§3", "paper_says": "p", "origin": {"kind": "paper"},
               "arms": [{"name": "pre", "config": {}}, {"name": "op", "config": {"block": "op"}}],
               "metric": {"series": "kurtosis", "excess": true},
               "predicate": {"kind": "ratio", "pairs": [["pre", "op"]], "at_least": \(threshold)}}]}
            """))
        }
        let arms = [
            ArmResult(name: "pre", values: [0: 0.9, 1: 0.8, 2: 0.85], againstValues: [:], runDirectories: [:], failures: []),
            ArmResult(name: "op", values: [0: 0.3, 1: 0.3, 2: 0.3], againstValues: [:], runDirectories: [:], failures: []),
        ]
        let strict = try registry(threshold: 3.5), lenient = try registry(threshold: 2)
        #expect(AuditJudging.judge(claim: strict.claims[0], seeds: [0, 1, 2], arms: arms).judgement.verdict == .notReproduced)
        #expect(AuditJudging.judge(claim: lenient.claims[0], seeds: [0, 1, 2], arms: arms).judgement.verdict == .held)
        let edited = strict.replacingThreshold(of: "op-lower", with: 2)
        #expect(AuditJudging.judge(claim: edited.claims[0], seeds: [0, 1, 2], arms: arms).judgement.verdict == .held)
    }
}
