import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLMetrics

/// Audit v3's statistics: Student-t intervals that cover at their nominal level for the seeds a claim
/// has, one-sided test p-values, Holm–Bonferroni over the paper's claims, and claims that say where
/// they come from.
@Suite("audit statistics: t intervals, Holm, claim origins")
struct AuditStatisticsTests {
    @Test("Student's t quantiles match their published values", arguments: [
        (1.0, 12.706204736174696), (2.0, 4.302652729749464), (4.0, 2.7764451051977934), (7.0, 2.3646242515927853),
        (29.0, 2.045229642132703), (1000.0, 1.9623390808264078),
    ])
    func tQuantiles(degrees: Double, expected: Double) {
        // Published to 15+ digits; the bisection stops at 1e-12 relative, so 1e-9 leaves room.
        #expect(abs(Statistics.studentTQuantile(0.975, degrees: degrees) - expected) < 1e-9 * expected)
        #expect(abs(Statistics.studentTCDF(expected, degrees: degrees) - 0.975) < 1e-12)
        #expect(abs(Statistics.studentTCDF(0, degrees: degrees) - 0.5) < 1e-15)
    }

    @Test("the t interval covers the true mean 95 % of the time with five seeds (seeded simulation)")
    func coverageAtFiveSeeds() throws {
        var stream = RandomStream(seed: 29, purpose: "tests.coverage")
        let trials = 20_000, truth = 3.0
        var covered = 0, bootstrapCovered = 0
        for _ in 0..<trials {
            let values = (0..<5).map { _ in truth + 0.4 * stream.nextNormal() }
            if try #require(Statistics.tInterval(values)).contains(truth) { covered += 1 }
            // What the v2 audit reported for three seeds: their min–max (a percentile bootstrap's limit).
            let three = Array(values.prefix(3))
            if (three.min()!...three.max()!).contains(truth) { bootstrapCovered += 1 }
        }
        let coverage = Double(covered) / Double(trials)
        // Binomial SE at p = 0.95 over 20,000 trials is 0.0015: ±0.006 is four of them.
        #expect(abs(coverage - 0.95) < 0.006, "coverage \(coverage)")
        // The min–max of three normal draws covers the mean with probability 1 − 2·(1/2)³ = 0.75.
        #expect(abs(Double(bootstrapCovered) / Double(trials) - 0.75) < 0.012, "min–max of three covered \(bootstrapCovered)")
    }

    @Test("the one-sided p is the t tail beyond the observed margin, and 0 or 1 without spread")
    func oneSidedP() {
        // Values 2, 3, 4 against 1: t = 2/(1/√3) = 2√3 on 2 degrees of freedom, whose upper tail is
        // ½ − t/(2√(2 + t²)) = ½ − 2√3/(2√14) (the closed-form CDF at ν = 2).
        let expected = 0.5 - 3.0.squareRoot() / 14.0.squareRoot()
        #expect(abs(Statistics.oneSidedP([2, 3, 4], threshold: 1, passesAbove: true) - expected) < 1e-12)
        #expect(abs(Statistics.oneSidedP([2, 3, 4], threshold: 5, passesAbove: false) - expected) < 1e-12)
        #expect(Statistics.oneSidedP([2, 2, 2], threshold: 1, passesAbove: true) == 0)
        #expect(Statistics.oneSidedP([2, 2, 2], threshold: 3, passesAbove: true) == 1)
    }

    @Test("Holm–Bonferroni multiplies the k-th smallest p by m − k, keeps the order monotone and leaves NaN out")
    func holm() {
        // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 → running max 0.06.
        let adjusted = Statistics.holmAdjusted([0.01, 0.04, 0.03, 0.005, .nan])
        for (value, expected) in zip(adjusted.prefix(4), [0.03, 0.06, 0.06, 0.02]) { #expect(abs(value - expected) < 1e-15) }
        #expect(adjusted[4].isNaN)
        #expect(Statistics.holmAdjusted([0.6, 0.7]) == [1, 1].map { min(1, $0 * 1.2) }, "capped at 1")
    }

    @Test("only the paper's claims form the Holm family, and a held claim can fail after Holm")
    func holmFamily() throws {
        let predicate = Predicate(kind: .ratio([ArmPair("pre", "op")]), comparison: .atLeast(2))
        func result(_ id: String, origin: ClaimOrigin, pre: [Double]) -> ClaimResult {
            let claim = Claim(id: id, statement: "", paperLocation: "", paperSays: "", origin: origin, arms: [], metric: MetricSpec(source: .summary("val_loss")),
                              against: nil, predicate: predicate, scales: [:])
            return ClaimResult(claim: claim, seeds: [1, 2, 3], arms: [],
                               judgement: Judge.judge(predicate, arms: ["pre", "op"], seedValues: pre.map { ["pre": $0, "op": 1] }))
        }
        let results = AuditJudging.withHolm([
            result("a", origin: .paper, pre: [3, 2.5, 2.8]), result("b", origin: .paper, pre: [2.9, 2.6, 2.7]),
            result("c", origin: .paper, pre: [1.2, 1.1, 1.3]), result("x", origin: .extension(why: "ours"), pre: [3, 2.5, 2.8]),
        ])
        let family = results.prefix(3).map(\.judgement), x = results[3].judgement
        #expect(x.holmP == nil && x.holdsAfterHolm == nil, "extensions are not in the family")
        let expected = Statistics.holmAdjusted(try family.map { try #require($0.testP) })
        for (judgement, adjusted) in zip(family, expected) { #expect(judgement.holmP == adjusted, "a family of three, adjusted together") }
        #expect(family[0].verdict == .held && family[2].holdsAfterHolm == false, "a claim that did not hold cannot hold after Holm")
        for judgement in family where judgement.verdict == .held {
            #expect(judgement.holdsAfterHolm == (judgement.holmP! < Judge.oneSidedAlpha))
        }
    }

    @Test("every bundled claim says where it comes from; extensions say why, and the final-norm ablation reads as the paper's appendix")
    func bundledOrigins() throws {
        let registry = try ClaimRegistry.bundled()
        let extensions = registry.claims.filter { !$0.origin.isPaper }.map(\.id)
        #expect(Set(extensions) == ["op-vs-preln-kurtosis-every-lr", "soap-lowers-kurtosis-every-lr", "eigenbasis-not-any-rotation",
                                    "mmr-tracks-kurtosis", "of-reduction-keeps-loss", "kurtosis-predicts-a4", "site-attribution",
                                    "residual-beta-lowers-kurtosis", "adamw-at-soap-betas-keeps-ofs",
                                    // Bondarenko et al.'s and Xiao et al.'s remedies (issue 30): not He et al.'s claims.
                                    "clipped-softmax-lowers-kurtosis", "gated-attention-lowers-kurtosis", "smoothquant-recovers-w8a8",
                                    "smoothquant-recovers-6bit"])
        let ablation = try #require(registry.claims.first { $0.id == "op-final-norm-ablation" })
        #expect(ablation.origin == .paper)
        #expect(ablation.predicate == Predicate(kind: .ratio([ArmPair("OP + final LN", "OP + AdamW")]), comparison: .atLeast(1.5)),
                "adding the final LayerNorm raises kurtosis: OP + final LN over OP at least 1.5")
    }

    @Test("a claim without an origin, or an extension without a reason, is refused naming the key", arguments: [
        (#""origin": {"kind": "paper"},"#, "", "claims[0] (c).origin is missing"),
        (#""origin": {"kind": "paper"},"#, #""origin": {"kind": "extension"},"#, "origin.why must be a non-empty string"),
        (#""origin": {"kind": "paper"},"#, #""origin": {"kind": "hunch"},"#, "must be paper or extension"),
    ])
    func originIsRequired(original: String, replacement: String, message: String) throws {
        let text = minimalRegistry.replacingOccurrences(of: original, with: replacement)
        let error = try #require(rejectionMessage { _ = try ClaimRegistry(json: try JSONValue.parse(text)) })
        #expect(error.contains(message), "\(error)")
    }

    let minimalRegistry = #"""
    {"base": {"steps": 4, "width": 16, "heads": 2, "layers": 1, "seq": 8, "batch": 2},
     "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [1, 2, 3]}},
     "claims": [{"id": "c", "statement": "s", "paper": "p", "paper_says": "p", "origin": {"kind": "paper"},
                 "arms": [{"name": "a", "config": {}}], "metric": {"summary": "val_loss"},
                 "predicate": {"kind": "value", "at_least": 0}}]}
    """#
}
