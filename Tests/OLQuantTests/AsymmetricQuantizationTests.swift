import Testing
import OLMetrics
import OLCore
import OLQuant

@Suite("Asymmetric uint8 fake quantisation")
struct AsymmetricQuantizationTests {
    @Test("scale and zero point follow from the range, checked by hand")
    func parametersByHand() {
        // [−1, 3]: s = 4/255, z = round(255/4) = round(63.75) = 64.
        let q = AffineQuantization(minimum: -1, maximum: 3)
        #expect(q.scale == Float(4) / 255 && q.zeroPoint == 64 && q.qMax == 255)
    }

    @Test("a range with an exact zero point round-trips both endpoints exactly")
    func exactEndpoints() {
        // s = 1/64 and z = 64: min = −64·s, max = 191·s are grid points.
        let q = AffineQuantization(minimum: -1, maximum: 191.0 / 64)
        #expect(q.scale == 1.0 / 64 && q.zeroPoint == 64)
        #expect(q.quantize(-1) == 0 && q.quantize(191.0 / 64) == 255)
        #expect(q.fakeQuantize(-1) == -1 && q.fakeQuantize(191.0 / 64) == 191.0 / 64)
    }

    @Test(
        "endpoints of any range map to codes 0 and 255 and come back within half a step",
        arguments: [(Float(-1), Float(3)), (-0.3, 17.2), (-5, 0.1), (-2.2, 2.2)]
    )
    func endpointsWithinHalfStep(minimum: Float, maximum: Float) {
        let q = AffineQuantization(minimum: minimum, maximum: maximum)
        #expect(q.quantize(minimum) == 0 && q.quantize(maximum) == 255)
        // The zero point is rounded to an integer, which shifts the grid by at most s/2 (float slack 1e-6).
        #expect(abs(q.fakeQuantize(minimum) - minimum) <= q.scale / 2 * (1 + 1e-6))
        #expect(abs(q.fakeQuantize(maximum) - maximum) <= q.scale / 2 * (1 + 1e-6))
        #expect(q.fakeQuantize(0) == 0)
    }

    @Test("a range not containing zero is widened to include it, so zero stays exact")
    func widenedToZero() {
        let q = AffineQuantization(minimum: 2, maximum: 6)
        #expect(q.zeroPoint == 0 && q.scale == Float(6) / 255 && q.fakeQuantize(0) == 0)
        let negative = AffineQuantization(minimum: -6, maximum: -2)
        #expect(negative.zeroPoint == 255 && negative.fakeQuantize(0) == 0)
    }

    @Test("values outside the range clip to the endpoint codes")
    func clipsOutside() {
        let q = AffineQuantization(minimum: -1, maximum: 3)
        #expect(q.quantize(100) == 255 && q.quantize(-100) == 0)
        #expect(q.fakeQuantized([100, -100]) == [q.dequantize(255), q.dequantize(0)])
    }
}

@Suite("Static range observer")
struct RangeObserverTests {
    @Test("the first batch sets the range and later batches move it with momentum 0.9")
    func momentum() throws {
        var observer = RangeObserver()
        #expect(observer.quantization() == nil)
        try observer.observe([-1, 0.5, 2])
        #expect(observer.minimum == -1 && observer.maximum == 2)
        try observer.observe([-3, 4, 1])
        // 1 − 0.9 is not exactly 0.1 in Double: compare to 1e-12 (the range values are of order 1).
        let (minimum, maximum) = try (#require(observer.minimum), #require(observer.maximum))
        #expect(abs(minimum - (0.9 * -1 + 0.1 * -3)) < 1e-12 && abs(maximum - (0.9 * 2 + 0.1 * 4)) < 1e-12)
        #expect(observer.batches == 2)
        #expect(observer.quantization() == AffineQuantization(minimum: Float(minimum), maximum: Float(maximum)))
    }

    @Test("the 99.999th percentile uses linear interpolation between order statistics")
    func percentileInterpolation() {
        let sorted = (0...200_000).map { Float($0) }
        // Rank 0.99999·200000 = 199998 exactly (Double rounding aside); rank 0.00001·200000 = 2.
        #expect(abs(percentileOfSorted(sorted, 99.999) - 199_998) < 1e-6)
        #expect(abs(percentileOfSorted(sorted, 0.001) - 2) < 1e-6)
        #expect(percentileOfSorted([1, 3], 50) == 2)
    }

    @Test("the percentile option ignores a single extreme outlier")
    func percentileIgnoresOutlier() throws {
        var values = gaussian(count: 300_000, seed: 17)
        values[1234] = 1e6
        var plain = RangeObserver(), robust = RangeObserver(percentile: 99.999)
        try plain.observe(values)
        try robust.observe(values)
        #expect(plain.maximum == 1e6)
        // The 99.999th percentile of 3·10⁵ Gaussians sits near 4.4σ; anything below 10 shows the outlier is ignored.
        #expect((robust.maximum ?? .infinity) < 10 && (robust.minimum ?? -.infinity) > -10)
    }

    @Test("a batch with a NaN or no values is rejected with one line")
    func rejectsBadBatches() {
        var observer = RangeObserver()
        #expect(throws: OutlierLabError.self) { try observer.observe([1, .nan]) }
        #expect(throws: OutlierLabError.self) { try observer.observe([Float]()) }
        #expect(observer.batches == 0)
    }
}
