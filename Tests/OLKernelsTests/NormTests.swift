import Testing
@testable import OLKernels

@Suite("LayerNorm, RMSNorm, SRMSNorm")
struct NormTests {
    @Test("LayerNorm matches the reference and finite differences for input, weight and bias", arguments: RowShape.all)
    func layerNormMatchesReference(shape: RowShape) {
        check(Cases.layerNorm(N: shape.N, C: shape.C, seed: UInt64(shape.N * 31 + shape.C)))
    }

    @Test("RMSNorm matches the reference and finite differences for input and weight", arguments: RowShape.all)
    func rmsNormMatchesReference(shape: RowShape) {
        check(Cases.rmsNorm(N: shape.N, C: shape.C, seed: UInt64(shape.N * 37 + shape.C)))
    }

    @Test("SRMSNorm matches the reference and finite differences", arguments: RowShape.all)
    func srmsNormMatchesReference(shape: RowShape) {
        check(Cases.srmsNorm(N: shape.N, C: shape.C, seed: UInt64(shape.N * 41 + shape.C)))
    }

    @Test("LayerNorm caches the row mean and 1/√(var + eps)")
    func layerNormCachesMeanAndRstd() {
        let (N, C) = (4, 13)
        let x = randomFloats(N * C, seed: 5, std: 3, mean: 2), w = [Float](repeating: 1, count: C), b = [Float](repeating: 0, count: C)
        var out = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b, N: N, C: C)
        let expected = Reference.layerNorm(x: x.map(Double.init), weight: w.map(Double.init), bias: b.map(Double.init), N: N, C: C)
        expectClose(mean, expected.mean, .forward, "mean")
        expectClose(rstd, expected.rstd, .forward, "rstd")
    }

    @Test("RMSNorm adds eps to the RMS, not inside the square root")
    func rmsNormAddsEpsToTheRMS() {
        // rms = 1e-3: x/(rms + 1e-5) = 0.990…, whereas x/√(ms + 1e-5) would be 0.30.
        let x: [Float] = [1e-3, -1e-3, 1e-3, -1e-3], g: [Float] = [1, 1, 1, 1]
        var out = [Float](repeating: 0, count: 4), rms: [Float] = [0]
        rmsNormForward(out: &out, rms: &rms, inp: x, weight: g, N: 1, C: 4)
        // One division and one multiplication in float32: a few ulps.
        expectClose(out, [1, -1, 1, -1].map { $0 * 1e-3 / (1e-3 + 1e-5) }, Tolerance(rtol: 1e-6, atol: 0), "RMSNorm output")
        expectClose(rms, [1e-3], Tolerance(rtol: 1e-6, atol: 0), "cached rms")
    }

    @Test("SRMSNorm rows have Euclidean norm √C, and an all-zero row maps to zero without NaN")
    func srmsNormHasNormSqrtC() {
        let (N, C) = (3, 33)
        var x = randomFloats(N * C, seed: 9, std: 5)
        for i in 0..<C { x[2 * C + i] = 0 }
        var out = [Float](repeating: .nan, count: N * C), rstd = [Float](repeating: .nan, count: N)
        srmsNormForward(out: &out, rstd: &rstd, inp: x, N: N, C: C)
        let norms = (0..<N).map { n in out[n * C ..< (n + 1) * C].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        // A float32 sum of 33 squares: relative error ≤ 33·6e-8 ≈ 2e-6.
        expectClose(Array(norms[0..<2]), [Double(C).squareRoot(), Double(C).squareRoot()], Tolerance(rtol: 1e-5, atol: 0), "row norms")
        #expect(out[(2 * C)...].allSatisfy { $0 == 0 })
        var dinp = [Float](repeating: 0, count: N * C)
        srmsNormBackward(dinp: &dinp, dout: randomFloats(N * C, seed: 10), inp: x, rstd: rstd, N: N, C: C)
        #expect(dinp[(2 * C)...].allSatisfy { $0 == 0 })
    }
}
