import OLCore
import OLMetrics
import Testing

@Suite("Bootstrap interval over windows")
struct BootstrapIntervalTests {
    static func normalWindows(_ count: Int, mean: Double, std: Double, seed: UInt64) -> [Double] {
        var rng = RandomStream(seed: seed, purpose: "tests")
        return (0..<count).map { _ in mean + std * rng.nextNormal() }
    }

    @Test("windows that all have the same loss give a zero-width interval at exp(loss)")
    func constantWindowsCollapse() {
        let interval = BootstrapInterval(series: [Array(repeating: 1.75, count: 50)]) { exp($0[0]) }
        // Every resampled mean is a sum of 50 copies of 1.75 over 50: exact in Double, so the bounds are exact.
        #expect(interval.lower == exp(1.75) && interval.upper == exp(1.75))
    }

    @Test("the interval of a mean of K normal windows has the normal-theory width 2·1.96·σ/√K")
    func normalTheoryWidth() {
        let (K, sigma) = (400, 0.5)
        let values = Self.normalWindows(K, mean: 2, std: sigma, seed: 3)
        let interval = BootstrapInterval(series: [values]) { $0[0] }
        let mean = values.reduce(0, +) / Double(K)
        let sampleStd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(K)).squareRoot()
        let expected = 2 * 1.959964 * sampleStd / Double(K).squareRoot()
        // 2000 resamples estimate each 2.5 % quantile with ≈ 3 % relative error of the width; 10 % is 3σ of that.
        #expect(abs(interval.width - expected) <= 0.1 * expected, "width \(interval.width), normal theory \(expected)")
        #expect(interval.lower < mean && mean < interval.upper)
    }

    @Test("a paired difference of two identical series is exactly zero, however wide each series' interval is")
    func pairedDifferenceOfIdenticalSeries() {
        let values = Self.normalWindows(64, mean: 2, std: 1, seed: 4)
        let single = BootstrapInterval(series: [values]) { exp($0[0]) }
        let paired = BootstrapInterval(series: [values, values]) { exp($0[1]) - exp($0[0]) }
        #expect(single.width > 0.5, "exp of a mean with σ/√K = 0.125 spreads by about one unit")
        #expect(paired.lower == 0 && paired.upper == 0)
    }

    @Test("the same seed gives the same bits, another seed another interval")
    func seeded() {
        let values = Self.normalWindows(32, mean: 0, std: 1, seed: 5)
        let a = BootstrapInterval(series: [values], seed: 9) { $0[0] }
        let b = BootstrapInterval(series: [values], seed: 9) { $0[0] }
        let c = BootstrapInterval(series: [values], seed: 10) { $0[0] }
        #expect(a == b)
        #expect(a.lower != c.lower)
    }
}
