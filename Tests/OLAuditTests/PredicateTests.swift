import OLMetrics
import Testing
@testable import OLAudit

/// Predicates on hand-made numbers. Statistics are exact ratios/differences of short decimals, so the
/// tolerances below only absorb one or two Double roundings (1e-12).
@Suite("Predicates and statistics")
struct PredicateTests {
    @Test("ratio takes the smallest ratio over its pairs")
    func ratio() {
        let predicate = Predicate(kind: .ratio([ArmPair("a", "b"), ArmPair("c", "b")]), comparison: .atLeast(2))
        let statistic = predicate.statistic(["a": 6, "b": 2, "c": 5], allArms: ["a", "b", "c"])
        #expect(abs(statistic - 2.5) < 1e-12)
        #expect(predicate.comparison.passes(statistic))
        #expect(!Predicate(kind: predicate.kind, comparison: .atLeast(2.6)).comparison.passes(statistic))
    }

    @Test("difference takes the smallest difference over its pairs")
    func difference() {
        let predicate = Predicate(kind: .difference([ArmPair("a", "b"), ArmPair("c", "b")]), comparison: .atLeast(0))
        #expect(abs(predicate.statistic(["a": 1.5, "b": 1.25, "c": 1.0], allArms: []) - -0.25) < 1e-12)
    }

    @Test("margin is the largest relative excess of the first arm over the second")
    func margin() {
        let predicate = Predicate(kind: .margin([ArmPair("new", "old"), ArmPair("new2", "old")]), comparison: .atMost(0.05))
        let statistic = predicate.statistic(["new": 2.1, "new2": 1.9, "old": 2.0], allArms: [])
        #expect(abs(statistic - 0.05) < 1e-12)
        #expect(predicate.comparison.passes(statistic - 1e-9))
        #expect(!predicate.comparison.passes(0.0501))
    }

    @Test("monotone counts the fraction of adjacent steps that move in the stated direction")
    func monotone() {
        let increasing = Predicate(kind: .monotone(arms: ["x", "y", "z", "w"], increasing: true), comparison: .atLeast(1))
        #expect(increasing.statistic(["x": 1, "y": 2, "z": 3, "w": 4], allArms: []) == 1)
        #expect(abs(increasing.statistic(["x": 1, "y": 3, "z": 2, "w": 4], allArms: []) - 2.0 / 3.0) < 1e-12)
        // A tie is not an increase.
        #expect(abs(increasing.statistic(["x": 1, "y": 1, "z": 2, "w": 3], allArms: []) - 2.0 / 3.0) < 1e-12)
        let decreasing = Predicate(kind: .monotone(arms: ["x", "y", "z", "w"], increasing: false), comparison: .atLeast(1))
        #expect(decreasing.statistic(["x": 4, "y": 3, "z": 2, "w": 1], allArms: []) == 1)
        #expect(decreasing.statistic(["x": 4, "y": 3], allArms: []).isNaN)  // missing arms: undefined, not a pass
    }

    @Test("average ranks share the mean rank among ties")
    func ranks() {
        #expect(Statistics.averageRanks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1])
        #expect(Statistics.averageRanks([3, 3, 3]) == [2, 2, 2])
    }

    @Test("Spearman is ±1 for monotone data and matches a hand computation with ties")
    func spearman() {
        #expect(abs(Statistics.spearman([1, 2, 3, 4], [10, 20, 25, 100]) - 1) < 1e-12)
        #expect(abs(Statistics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12)
        // x ranks 1,2,3,4; y = [1, 2, 2, 3] ranks 1, 2.5, 2.5, 4. Pearson of the ranks:
        // centred x: −1.5, −.5, .5, 1.5; centred y: −1.5, 0, 0, 1.5 → Σxy = 4.5, Σx² = 5, Σy² = 4.5 → 4.5/√22.5.
        #expect(abs(Statistics.spearman([1, 2, 3, 4], [1, 2, 2, 3]) - 4.5 / 22.5.squareRoot()) < 1e-12)
        #expect(Statistics.spearman([1, 2, 3], [5, 5, 5]).isNaN)  // constant side: undefined
    }

    @Test("a Spearman predicate correlates the metric with its against-metric over the arms")
    func spearmanPredicate() {
        let predicate = Predicate(kind: .spearman(arms: []), comparison: .atLeast(0.8))
        let kurtosis = ["a": 1.1, "b": 1.5, "c": 3.0], degradation = ["a": 0.01, "b": 0.02, "c": 0.5]
        #expect(abs(predicate.statistic(kurtosis, against: degradation, allArms: ["a", "b", "c"]) - 1) < 1e-12)
        #expect(abs(predicate.statistic(kurtosis, against: ["a": 0.5, "b": 0.02, "c": 0.01], allArms: ["a", "b", "c"]) + 1) < 1e-12)
    }
}
