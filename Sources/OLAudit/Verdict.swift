import OLCore
import OLMetrics

/// The outcome of one claim at the scale it was run.
public enum Verdict: String, Sendable, CaseIterable {
    case held
    case notReproduced = "not reproduced"
    case inconclusive
    /// A precondition failed: the phenomenon the claim needs is absent at this scale, or its positive
    /// control cannot resolve an effect of the claim's size; the predicate says nothing either way.
    case untestable = "untestable at this scale"
    /// Not run at this scale (or `--claims` left it out).
    case notRun = "not run"
}

/// A verdict with the numbers behind it and a one-sentence reason.
public struct Judgement: Sendable, Equatable {
    public var verdict: Verdict
    /// The statistic: the mean over seeds of each seed's statistic (what the interval is about).
    public var statistic: Double
    /// The statistic on each seed's values alone (seeds shared by every arm), in seed order.
    public var seedStatistics: [Double]
    /// 95 % Student-t interval of the statistic over seeds (nil with fewer than `Judge.minimumSeeds`).
    public var interval: ClosedRange<Double>?
    /// One-sided permutation p-value of a rank correlation (nil for other predicates).
    public var pValue: Double?
    /// One-sided t-test p-value that the statistic is not on the passing side of the threshold: held at
    /// the 95 % interval is exactly `testP` < 0.025. Nil where no interval was computed.
    public var testP: Double?
    /// `testP` after Holm–Bonferroni over the paper's claims judged in the same audit (nil for our
    /// extensions and controls, which are not part of the family); set by `Judge.holm`.
    public var holmP: Double?
    /// Each precondition the claim declares, checked before its predicate.
    public var preconditions: [PreconditionCheck] = []
    public var reason: String

    public init(verdict: Verdict, statistic: Double, seedStatistics: [Double], interval: ClosedRange<Double>? = nil,
                pValue: Double? = nil, testP: Double? = nil, reason: String) {
        self.verdict = verdict
        self.statistic = statistic
        self.seedStatistics = seedStatistics
        self.interval = interval
        self.pValue = pValue
        self.testP = testP
        self.reason = reason
    }

    /// Whether the claim still holds after the Holm–Bonferroni correction (held, and its adjusted
    /// one-sided p below `Judge.oneSidedAlpha`); nil where no adjusted p applies.
    public var holdsAfterHolm: Bool? { holmP.map { verdict == .held && $0 < Judge.oneSidedAlpha } }
}

/// Turns measured per-arm values into a verdict, the same way for every predicate (<doc:Claims>):
/// - a failed or diverged run, or fewer than `minimumSeeds` seeds, makes the claim inconclusive;
/// - otherwise the 95 % Student-t interval of the per-seed statistics decides: **held** when it lies
///   wholly on the passing side of the threshold, **not reproduced** when it lies wholly on the other
///   side, **inconclusive** when it contains the threshold (held is the one-sided t-test at 2.5 %, whose
///   p-value is kept for Holm–Bonferroni across the paper's claims);
/// - a rank correlation must also beat chance: held needs its one-sided permutation p-value < 0.05
///   (with 6–7 arms a ρ ≥ 0.6 arises by chance 8–12 % of the time).
public enum Judge {
    /// Seeds a verdict needs: fewer leave no interval to speak of.
    public static let minimumSeeds = 3
    /// The one-sided level equivalent to "the two-sided 95 % interval clears the threshold".
    public static let oneSidedAlpha = 0.025
    /// The significance a rank correlation must reach.
    public static let significance = 0.05

    /// - Parameters:
    ///   - seedValues: per seed, the metric value of every arm (one dictionary per seed, arm name → value).
    ///   - seedAgainst: the same for a correlation predicate's second metric.
    ///   - failures: one line per failed or diverged run the claim depends on.
    public static func judge(_ predicate: Predicate, arms: [String], seedValues: [[String: Double]],
                             seedAgainst: [[String: Double]] = [], failures: [String] = []) -> Judgement {
        if !failures.isEmpty {
            return Judgement(verdict: .inconclusive, statistic: .nan, seedStatistics: [],
                             reason: "\(failures.count) run(s) failed or diverged: \(failures.joined(separator: "; "))")
        }
        let perSeed = seedValues.indices.map { index in
            predicate.statistic(seedValues[index], against: index < seedAgainst.count ? seedAgainst[index] : [:], allArms: arms)
        }
        let statistic = Statistics.mean(perSeed)
        let comparison = predicate.comparison
        let stated = "\(predicate.statisticName) \(formatNumber(statistic)), needed \(comparison.text)"
        var testP: Double?
        func inconclusive(_ why: String, interval: ClosedRange<Double>? = nil, p: Double? = nil) -> Judgement {
            Judgement(verdict: .inconclusive, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p, testP: testP,
                      reason: "\(stated); \(why)")
        }
        guard perSeed.allSatisfy(\.isFinite) else {
            return inconclusive("the statistic is undefined for a seed (a missing value or no variation to rank)")
        }
        guard seedValues.count >= minimumSeeds, let interval = Statistics.tInterval(perSeed) else {
            return inconclusive("\(seedValues.count) seed(s): at least \(minimumSeeds) are needed for an interval")
        }
        switch comparison {
        case .atLeast(let t): testP = Statistics.oneSidedP(perSeed, threshold: t, passesAbove: true)
        case .atMost(let t): testP = Statistics.oneSidedP(perSeed, threshold: t, passesAbove: false)
        }
        let intervalText = "95 % t interval [\(formatNumber(interval.lowerBound)), \(formatNumber(interval.upperBound))] over \(seedValues.count) seeds"
        var p: Double?
        if case .spearman(let listed) = predicate.kind {
            p = permutationPValue(means(seedValues, arms), against: means(seedAgainst, arms), arms: listed.isEmpty ? arms : listed,
                                  comparison: comparison)
        }
        let pText = p.map { ", permutation p = \(formatNumber($0))" } ?? ""
        let passing: Bool, failing: Bool
        switch comparison {
        case .atLeast(let t): (passing, failing) = (interval.lowerBound >= t, interval.upperBound < t)
        case .atMost(let t): (passing, failing) = (interval.upperBound <= t, interval.lowerBound > t)
        }
        if passing {
            if let p, p >= significance {
                return inconclusive("\(intervalText)\(pText): the correlation does not beat chance (p ≥ \(formatNumber(significance)))", interval: interval, p: p)
            }
            return Judgement(verdict: .held, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p, testP: testP,
                             reason: "\(stated); \(intervalText)\(pText)")
        }
        if failing {
            return Judgement(verdict: .notReproduced, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p, testP: testP,
                             reason: "\(stated); \(intervalText) lies wholly on the other side\(pText)")
        }
        return inconclusive("\(intervalText) contains the threshold\(pText)", interval: interval, p: p)
    }

    static func means(_ perSeed: [[String: Double]], _ arms: [String]) -> [String: Double] {
        var result: [String: Double] = [:]
        for arm in arms {
            let values = perSeed.compactMap { $0[arm] }
            if !values.isEmpty { result[arm] = Statistics.mean(values) }
        }
        return result
    }

    /// Sets `holmP` on the judgements of the paper's claims (`family`, by claim id): Holm–Bonferroni
    /// over their one-sided t-test p-values; claims without one (not run, too few seeds) are left out.
    public static func holm(_ judgements: inout [String: Judgement], family: [String]) {
        let members = family.filter { judgements[$0]?.testP?.isFinite == true }
        let adjusted = Statistics.holmAdjusted(members.map { judgements[$0]!.testP! })
        for (id, p) in zip(members, adjusted) { judgements[id]?.holmP = p }
    }

    /// One-sided permutation p-value of the Spearman correlation of `values` with `against` over `arms`:
    /// the fraction of orderings of `against` whose ρ is at least as extreme, in the claim's direction, as
    /// the observed one (every ordering up to 8 arms, else 20,000 seeded random ones).
    public static func permutationPValue(_ values: [String: Double], against: [String: Double], arms: [String],
                                         comparison: Comparison) -> Double {
        let x = arms.compactMap { values[$0] }, y = arms.compactMap { against[$0] }
        guard x.count == arms.count, y.count == arms.count, arms.count > 1 else { return .nan }
        let observed = Statistics.spearman(x, y)
        guard observed.isFinite else { return .nan }
        func extreme(_ rho: Double) -> Bool {
            guard rho.isFinite else { return false }
            if case .atMost = comparison { return rho <= observed + 1e-12 }
            return rho >= observed - 1e-12
        }
        var hits = 0, total = 0
        if arms.count <= 8 {
            var permutation = Array(y.indices)
            repeat {
                total += 1
                if extreme(Statistics.spearman(x, permutation.map { y[$0] })) { hits += 1 }
            } while nextPermutation(&permutation)
        } else {
            var stream = RandomStream(seed: 0, purpose: "audit.permutation")
            var shuffled = y
            for _ in 0..<20_000 {
                for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, stream.nextInt(below: i + 1)) }
                total += 1
                if extreme(Statistics.spearman(x, shuffled)) { hits += 1 }
            }
        }
        return Double(hits) / Double(total)
    }

    /// Advances `a` to the next lexicographic permutation; false after the last one.
    static func nextPermutation(_ a: inout [Int]) -> Bool {
        guard a.count > 1, var i = a.indices.dropLast().last(where: { a[$0] < a[$0 + 1] }) else { return false }
        let j = a.indices.last { a[$0] > a[i] }!
        a.swapAt(i, j)
        i += 1
        a[i...].reverse()
        return true
    }
}
