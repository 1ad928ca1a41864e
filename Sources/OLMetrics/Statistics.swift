import Foundation

/// Small statistics over seed replicas and sweeps, in Double.
public enum Statistics {
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// The q-quantile of sorted values by linear interpolation between order statistics (numpy's default).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }

    /// Sample standard deviation (n − 1); 0 for a single value.
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// Ranks starting at 1; tied values share the mean of the ranks they span.
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = rank }
            start = end + 1
        }
        return ranks
    }

    /// Pearson correlation; nan when either side is constant or the lengths differ.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count == y.count, x.count > 1 else { return .nan }
        let mx = mean(x), my = mean(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Spearman rank correlation: Pearson correlation of average ranks (correct with ties).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(averageRanks(x), averageRanks(y))
    }

    // MARK: Student's t

    /// The two-sided `confidence` interval of the mean of `values` from Student's t: mean ± t·s/√n with
    /// t the (1 + confidence)/2 quantile on n − 1 degrees of freedom. Exact coverage for normal values,
    /// close to it for the per-seed statistics of a claim (a seeded simulation tests n = 5); nil below
    /// two values. A percentile bootstrap over 3 seeds, which it replaces, is the min–max of the three
    /// (about 75 % coverage).
    public static func tInterval(_ values: [Double], confidence: Double = 0.95) -> ClosedRange<Double>? {
        guard values.count >= 2, values.allSatisfy(\.isFinite) else { return nil }
        let m = mean(values), half = studentTQuantile((1 + confidence) / 2, degrees: Double(values.count - 1))
            * standardDeviation(values) / Double(values.count).squareRoot()
        return (m - half)...(m + half)
    }

    /// One-sided p-value that the mean of `values` is not on the passing side of `threshold`: for
    /// `passesAbove`, P(T ≥ t) with t = (mean − threshold)/(s/√n) on n − 1 degrees of freedom (the
    /// mirror for `atMost`). With no spread it is 0 when the mean passes and 1 when it does not.
    public static func oneSidedP(_ values: [Double], threshold: Double, passesAbove: Bool) -> Double {
        guard values.count >= 2, values.allSatisfy(\.isFinite) else { return .nan }
        let m = mean(values), se = standardDeviation(values) / Double(values.count).squareRoot()
        let margin = passesAbove ? m - threshold : threshold - m
        guard se > 0 else { return margin > 0 ? 0 : 1 }
        return 1 - studentTCDF(margin / se, degrees: Double(values.count - 1))
    }

    /// Holm–Bonferroni adjusted p-values, in the order given: sorted ascending, the k-th smallest (from 0)
    /// is multiplied by m − k, running maxima keep the order, capped at 1. NaN stays NaN and is not
    /// counted in m.
    public static func holmAdjusted(_ pValues: [Double]) -> [Double] {
        let order = pValues.indices.filter { pValues[$0].isFinite }.sorted { pValues[$0] < pValues[$1] || (pValues[$0] == pValues[$1] && $0 < $1) }
        var adjusted = pValues.map { $0.isFinite ? 1.0 : .nan }
        var running = 0.0
        for (k, index) in order.enumerated() {
            running = max(running, min(1, Double(order.count - k) * pValues[index]))
            adjusted[index] = running
        }
        return adjusted
    }

    /// Student's t CDF on `degrees` degrees of freedom: for t ≥ 0, 1 − ½·I_{ν/(ν+t²)}(ν/2, ½).
    public static func studentTCDF(_ t: Double, degrees nu: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 1 : 0 }
        let tail = 0.5 * regularisedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile of Student's t (bisection on the CDF to 1e-12; p in (0, 1)).
    public static func studentTQuantile(_ p: Double, degrees nu: Double) -> Double {
        precondition(p > 0 && p < 1 && nu > 0, "a t quantile needs p in (0, 1) and positive degrees of freedom")
        var low = -1.0, high = 1.0
        while studentTCDF(low, degrees: nu) > p { low *= 2 }
        while studentTCDF(high, degrees: nu) < p { high *= 2 }
        for _ in 0..<200 where high - low > 1e-12 * max(1, abs(high)) {
            let middle = (low + high) / 2
            if studentTCDF(middle, degrees: nu) < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// I_x(a, b), the regularised incomplete beta function, by its continued fraction (modified Lentz),
    /// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func regularisedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x))
        if x > (a + 1) / (a + b + 2) { return 1 - front * betaFraction(1 - x, a: b, b: a) / b }
        return front * betaFraction(x, a: a, b: b) / a
    }

    private static func betaFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        d = 1 / (abs(d) < tiny ? tiny : d)
        var h = d
        for m in 1...500 {
            let m2 = Double(2 * m), mm = Double(m)
            for numerator in [mm * (b - mm) * x / ((a + m2 - 1) * (a + m2)), -(a + mm) * (a + b + mm) * x / ((a + m2) * (a + m2 + 1))] {
                d = 1 + numerator * d
                d = 1 / (abs(d) < tiny ? tiny : d)
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                h *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return h
    }
}

