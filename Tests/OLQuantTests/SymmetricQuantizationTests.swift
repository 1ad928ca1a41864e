import Testing
import OLQuant

@Suite("Symmetric fake quantisation")
struct SymmetricQuantizationTests {
    /// A tensor whose absmax is 127/64, so the 8-bit scale is exactly 1/64 and every k/64 is a grid point.
    let gridScale: Float = 1.0 / 64
    func withGridScale(_ values: [Float]) -> [Float] { [127 * gridScale] + values }

    @Test("q_max is 2^(bits−1) − 1", arguments: [(8, 127), (6, 31), (4, 7)])
    func qMax(bits: Int, expected: Int) {
        #expect(symmetricQMax(bits: bits) == expected)
    }

    @Test("the per-tensor scale is absmax/127", arguments: [Float(1), 0.37, 12.5, 3e4])
    func perTensorScale(absMax: Float) {
        let result = fakeQuantizedSymmetric([0.1, -absMax, absMax / 3], rows: 1, columns: 3, granularity: .perTensor)
        #expect(result.scales == [absMax / 127])
        // absmax itself lands on the top grid point 127·s (a float product within half an ulp of absmax).
        #expect(abs(result.values[1] + absMax) <= absMax.ulp)
    }

    @Test("values exactly on grid points are unchanged")
    func gridPointsUnchanged() {
        let grid = withGridScale((-127...127).map { Float($0) * gridScale })
        #expect(fakeQuantizedSymmetric(grid, rows: 1, columns: grid.count, granularity: .perTensor).values == grid)
    }

    @Test(
        "ties round half to even",
        arguments: [(Float(2.5), Float(2)), (3.5, 4), (0.5, 0), (1.5, 2), (-2.5, -2), (-3.5, -4), (126.5, 126)]
    )
    func tiesToEven(multiple: Float, expected: Float) {
        let result = fakeQuantizedSymmetric(withGridScale([multiple * gridScale]), rows: 1, columns: 2, granularity: .perTensor)
        #expect(result.scales == [gridScale])
        #expect(result.values[1] == expected * gridScale)
    }

    @Test("an all-zero tensor stays zero with the floor scale 1e-5/127")
    func allZero() {
        let result = fakeQuantizedSymmetric([Float](repeating: 0, count: 12), rows: 3, columns: 4, granularity: .perToken)
        #expect(result.values.allSatisfy { $0 == 0 })
        #expect(result.scales == [Float](repeating: 1e-5 / 127, count: 3))
    }

    @Test("a given scale clips values beyond ±q_max·s")
    func clipping() {
        var values: [Float] = [10, -10, 0.3]
        values.withUnsafeMutableBufferPointer { fakeQuantizeSymmetric($0, scale: 0.01, bits: 8) }
        #expect(values == [127 * Float(0.01), -127 * Float(0.01), 30 * Float(0.01)])
    }

    @Test("every element is within half a step of its original", arguments: [8, 6, 4])
    func halfStepBound(bits: Int) {
        let x = gaussian(count: 4096, seed: 3)
        let result = fakeQuantizedSymmetric(x, rows: 64, columns: 64, granularity: .perOutputChannel, bits: bits)
        for row in 0..<64 {
            let s = result.scales[row]
            for j in 0..<64 {
                // x/s is rounded to Float before rounding to the grid: allow a relative 1e-6 slack on s/2.
                #expect(abs(result.values[row * 64 + j] - x[row * 64 + j]) <= s / 2 * (1 + 1e-6))
            }
        }
    }

    @Test("per-row scales are each row's absmax/q_max", arguments: SymmetricGranularity.allCases)
    func rowScales(granularity: SymmetricGranularity) {
        let x: [Float] = [1, -4, 2, 0.5, 0.25, -0.125, 8, 8, -8]
        let scales = fakeQuantizedSymmetric(x, rows: 3, columns: 3, granularity: granularity).scales
        let perRow: [Float] = [4 / 127, 0.5 / 127, 8 / 127]
        let perTensor: [Float] = [8 / 127]
        #expect(scales == (granularity == .perTensor ? perTensor : perRow))
    }

    @Test("fake quantisation is idempotent", arguments: [8, 4])
    func idempotent(bits: Int) {
        let once = fakeQuantizedSymmetric(gaussian(count: 1000, seed: 5), rows: 10, columns: 100, granularity: .perToken, bits: bits)
        let twice = fakeQuantizedSymmetric(once.values, rows: 10, columns: 100, granularity: .perToken, bits: bits)
        #expect(twice.values == once.values)
    }

    @Test("8-bit error on Gaussian data matches the uniform-noise model s/√12")
    func uniformNoiseModel() {
        let n = 200_000
        let x = gaussian(count: n, seed: 7)
        let result = fakeQuantizedSymmetric(x, rows: 1, columns: n, granularity: .perTensor)
        let s = Double(result.scales[0])
        let mse = meanSquaredError(result.values, x)
        // With s ≈ 0.035σ the error is ≈ uniform on [−s/2, s/2]: E e² = s²/12, Var e² = s⁴(1/80 − 1/144).
        // Bound: 5 standard errors of the mean of e², plus 1 % for the deviation from exact uniformity.
        let tolerance = 5 * (s * s * s * s * (1.0 / 80 - 1.0 / 144) / Double(n)).squareRoot() + 0.01 * s * s / 12
        #expect(abs(mse - s * s / 12) < tolerance)
    }

    @Test("4-bit error is about 2^4 times the 8-bit error (RMS ratio 127/7 under the uniform model)")
    func fourVersusEightBits() {
        let x = gaussian(count: 100_000, seed: 9)
        let rms = [4, 8].map { bits in
            meanSquaredError(fakeQuantizedSymmetric(x, rows: 1, columns: x.count, granularity: .perTensor, bits: bits).values, x).squareRoot()
        }
        // The uniform model is rougher at 4 bits (step ≈ 0.65σ), so allow ±15 % around 127/7 ≈ 18.1.
        #expect(abs(rms[0] / rms[1] / (127.0 / 7) - 1) < 0.15)
    }

    @Test("a planted ×100 outlier output channel hurts per-tensor far more than per-channel quantisation")
    func outlierChannel() {
        let (rows, columns) = (64, 256)
        var w = gaussian(count: rows * columns, seed: 11, std: 0.02)
        for j in 0..<columns { w[5 * columns + j] *= 100 }
        let perTensor = fakeQuantizedSymmetric(w, rows: rows, columns: columns, granularity: .perTensor)
        let perChannel = fakeQuantizedSymmetric(w, rows: rows, columns: columns, granularity: .perOutputChannel)
        // Per tensor, 63 ordinary rows share the outlier's scale (≈ 100× too coarse, error ≈ 100² larger on
        // them); per channel only the outlier row has a coarse scale. Expect at least a 20× MSE gap.
        #expect(meanSquaredError(perTensor.values, w) > 20 * meanSquaredError(perChannel.values, w))
    }

    @Test("a planted ×100 outlier token hurts per-tensor far more than per-token quantisation")
    func outlierToken() {
        let (rows, columns) = (128, 64)
        var x = gaussian(count: rows * columns, seed: 13)
        for j in 0..<columns { x[17 * columns + j] *= 100 }
        let perTensor = fakeQuantizedSymmetric(x, rows: rows, columns: columns, granularity: .perTensor)
        let perToken = fakeQuantizedSymmetric(x, rows: rows, columns: columns, granularity: .perToken)
        // Same argument as for weights, with tokens as rows.
        #expect(meanSquaredError(perTensor.values, x) > 20 * meanSquaredError(perToken.values, x))
    }
}
