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
    public var reason: String
}

/// Turns measured per-arm values into a verdict, the same way for every predicate:
/// a failed or diverged run makes the claim inconclusive; otherwise the predicate's statistic on the
/// seed means decides, unless the per-seed statistics fall on both sides of the threshold (the seed
/// spread overlaps it), which is inconclusive too.
public enum Judge {
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
        func means(_ perSeed: [[String: Double]]) -> [String: Double] {
            var result: [String: Double] = [:]
            for arm in arms {
                let values = perSeed.compactMap { $0[arm] }
                if !values.isEmpty { result[arm] = Statistics.mean(values) }
            }
            return result
        }
        let statistic = predicate.statistic(means(seedValues), against: means(seedAgainst), allArms: arms)
        let perSeed = seedValues.indices.map { index in
            predicate.statistic(seedValues[index], against: index < seedAgainst.count ? seedAgainst[index] : [:], allArms: arms)
        }
        let comparison = predicate.comparison
        let stated = "\(predicate.statisticName) \(formatNumber(statistic)), needed \(comparison.text)"
        guard statistic.isFinite else {
            return Judgement(verdict: .inconclusive, statistic: statistic, seedStatistics: perSeed,
                             reason: "\(stated): the statistic is undefined (a missing value or no variation to rank)")
        }
        let passes = comparison.passes(statistic)
        let seedPasses = perSeed.filter { comparison.passes($0) }.count
        let spread = perSeed.count > 1 ? "per-seed \(formatNumber(perSeed.min()!))…\(formatNumber(perSeed.max()!))" : "one seed, no spread"
        if perSeed.count > 1 && seedPasses > 0 && seedPasses < perSeed.count {
            return Judgement(verdict: .inconclusive, statistic: statistic, seedStatistics: perSeed,
                             reason: "\(stated); the seed spread overlaps the threshold (\(spread), \(seedPasses)/\(perSeed.count) seeds pass)")
        }
        if passes && seedPasses == perSeed.count {
            return Judgement(verdict: .held, statistic: statistic, seedStatistics: perSeed, reason: "\(stated) (\(spread))")
        }
        if !passes && seedPasses == 0 {
            return Judgement(verdict: .notReproduced, statistic: statistic, seedStatistics: perSeed, reason: "\(stated) (\(spread))")
        }
        return Judgement(verdict: .inconclusive, statistic: statistic, seedStatistics: perSeed,
                         reason: "\(stated); the seed mean and the individual seeds disagree (\(spread))")
    }
}
