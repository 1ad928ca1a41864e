import OLCore

/// The outcome of one claim at the scale it was run.
public enum Verdict: String, Sendable, CaseIterable {
    case held
    case notReproduced = "not reproduced"
    case inconclusive
    /// Not run at this scale (or `--claims` left it out).
    case notRun = "not run"
}

/// A verdict with the numbers behind it and a one-sentence reason.
public struct Judgement: Sendable, Equatable {
    public var verdict: Verdict
    /// The statistic on the seed-mean values.
    public var statistic: Double
    /// The statistic on each seed's values alone (seeds shared by every arm), in seed order.
    public var seedStatistics: [Double]
    /// 95 % bootstrap interval of the statistic over seeds (nil with fewer than `Judge.minimumSeeds`).
    public var interval: ClosedRange<Double>?
    /// One-sided permutation p-value of a rank correlation (nil for other predicates).
    public var pValue: Double?
    public var reason: String

    public init(verdict: Verdict, statistic: Double, seedStatistics: [Double], interval: ClosedRange<Double>? = nil,
                pValue: Double? = nil, reason: String) {
        self.verdict = verdict
        self.statistic = statistic
        self.seedStatistics = seedStatistics
        self.interval = interval
        self.pValue = pValue
        self.reason = reason
    }
}

/// Turns measured per-arm values into a verdict, the same way for every predicate (SPEC §9):
/// - a failed or diverged run, or fewer than `minimumSeeds` seeds, makes the claim inconclusive;
/// - otherwise the statistic's 95 % bootstrap interval over seeds decides: **held** when it lies wholly
///   on the passing side of the threshold, **not reproduced** when it lies wholly on the other side,
///   **inconclusive** when it contains the threshold;
/// - a rank correlation must also beat chance: held needs its one-sided permutation p-value < 0.05
///   (with 6–7 arms a ρ ≥ 0.6 arises by chance 8–12 % of the time).
public enum Judge {
    /// Seeds a verdict needs: fewer leave no interval to speak of.
    public static let minimumSeeds = 3
    /// Bootstrap resamples of the seeds.
    public static let resamples = 2000
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
        let statistic = predicate.statistic(means(seedValues, arms), against: means(seedAgainst, arms), allArms: arms)
        let perSeed = seedValues.indices.map { index in
            predicate.statistic(seedValues[index], against: index < seedAgainst.count ? seedAgainst[index] : [:], allArms: arms)
        }
        let comparison = predicate.comparison
        let stated = "\(predicate.statisticName) \(formatNumber(statistic)), needed \(comparison.text)"
        func inconclusive(_ why: String, interval: ClosedRange<Double>? = nil, p: Double? = nil) -> Judgement {
            Judgement(verdict: .inconclusive, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p, reason: "\(stated); \(why)")
        }
        guard statistic.isFinite else { return inconclusive("the statistic is undefined (a missing value or no variation to rank)") }
        guard seedValues.count >= minimumSeeds else {
            return inconclusive("\(seedValues.count) seed(s): at least \(minimumSeeds) are needed for an interval")
        }
        guard let interval = bootstrapInterval(predicate, arms: arms, seedValues: seedValues, seedAgainst: seedAgainst) else {
            return inconclusive("the statistic is undefined in more than 5 % of the bootstrap resamples")
        }
        let intervalText = "95 % interval [\(formatNumber(interval.lowerBound)), \(formatNumber(interval.upperBound))] over \(seedValues.count) seeds"
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
            return Judgement(verdict: .held, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p,
                             reason: "\(stated); \(intervalText)\(pText)")
        }
        if failing {
            return Judgement(verdict: .notReproduced, statistic: statistic, seedStatistics: perSeed, interval: interval, pValue: p,
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

    /// Percentile interval (2.5 %, 97.5 %) of the statistic on seed means, over `resamples` resamplings of
    /// the seeds with replacement (a seeded stream, so a report is reproducible); nil when more than 5 %
    /// of the resamples leave the statistic undefined.
    public static func bootstrapInterval(_ predicate: Predicate, arms: [String], seedValues: [[String: Double]],
                                         seedAgainst: [[String: Double]]) -> ClosedRange<Double>? {
        var stream = RandomStream(seed: 0, purpose: "audit.bootstrap")
        var statistics: [Double] = []
        statistics.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let picks = seedValues.indices.map { _ in stream.nextInt(below: seedValues.count) }
            let values = means(picks.map { seedValues[$0] }, arms)
            let against = seedAgainst.isEmpty ? [:] : means(picks.map { $0 < seedAgainst.count ? seedAgainst[$0] : [:] }, arms)
            let value = predicate.statistic(values, against: against, allArms: arms)
            if value.isFinite { statistics.append(value) }
        }
        guard Double(statistics.count) >= 0.95 * Double(resamples) else { return nil }
        statistics.sort()
        return Statistics.quantile(statistics, 0.025)...Statistics.quantile(statistics, 0.975)
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
