import OLCore

/// A seeded percentile bootstrap interval over evaluation windows: the resolution of a measurement made on
/// a finite sample of windows (an effect smaller than it is inconclusive: OLAudit's Claims article).
///
/// Each of `resamples` replicates draws K window indices with replacement (`nextInt(below: K)` on
/// `RandomStream(seed:purpose: "bootstrap")`), takes the mean of every series over the drawn windows (summed
/// in Double in draw order) and evaluates the statistic on those means; the interval is the (1 − level)/2
/// and (1 + level)/2 quantiles of the replicates (`percentileOfSorted`, NumPy's default interpolation).
/// Series are resampled together (the same windows for each), so a statistic of two series on the same
/// windows, such as a perplexity difference, is paired. Same inputs and seed ⇒ same bits.
public struct BootstrapInterval: Sendable, Equatable {
    public let lower: Double
    public let upper: Double
    /// Coverage, e.g. 0.95.
    public let level: Double
    public let resamples: Int
    public let seed: UInt64

    /// Resamples the K windows of `series` (each series holds one value per window, all of length K ≥ 1)
    /// and returns the interval of `statistic`, which receives the resampled mean of every series in order.
    public init(series: [[Double]], level: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 0,
                statistic: ([Double]) -> Double) {
        let windows = series.first?.count ?? 0
        precondition(windows > 0 && series.allSatisfy { $0.count == windows }, "every series needs the same K ≥ 1 windows")
        precondition(level > 0 && level < 1 && resamples > 1, "a bootstrap needs a level in (0, 1) and at least two resamples")
        var random = RandomStream(seed: seed, purpose: "bootstrap")
        var sums = [Double](repeating: 0, count: series.count)
        var replicates = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            for s in sums.indices { sums[s] = 0 }
            for _ in 0..<windows {
                let window = random.nextInt(below: windows)
                for s in series.indices { sums[s] += series[s][window] }
            }
            replicates[r] = statistic(sums.map { $0 / Double(windows) })
        }
        replicates.sort()
        lower = percentileOfSorted(replicates, 50 * (1 - level))
        upper = percentileOfSorted(replicates, 50 * (1 + level))
        self.level = level
        self.resamples = resamples
        self.seed = seed
    }

    /// Width of the interval, upper − lower.
    public var width: Double { upper - lower }

    /// `[lower, upper]`.
    public var json: JSONValue { .array([.double(lower), .double(upper)]) }

    /// How the interval was computed, for result files.
    public var methodJSON: JSONValue {
        .object([
            "method": "percentile bootstrap over evaluation windows, resampled with replacement",
            "level": .double(level),
            "resamples": .int(Int64(resamples)),
            "seed": .int(Int64(bitPattern: seed)),
        ])
    }
}
