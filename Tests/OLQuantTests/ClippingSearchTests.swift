import Testing
import OLQuant

/// Weight-like tensors with different tails for the clipping search.
enum ClippingCase: String, CaseIterable, CustomTestStringConvertible {
    case normal, heavyTailed, uniform, plantedOutlier, allZero
    var testDescription: String { rawValue }

    var values: [Float] {
        let z = gaussian(count: 8192, seed: 23, std: 0.02)
        switch self {
        case .normal: return z
        case .heavyTailed: return z.map { $0 * $0 * $0 * 2500 }  // z³: kurtosis ≫ 3
        case .uniform: return (0..<8192).map { Float($0 % 255) / 127 - 1 }
        case .plantedOutlier: return [1.0] + z.dropFirst()
        case .allZero: return [Float](repeating: 0, count: 64)
        }
    }
}

@Suite("MSE clipping search")
struct ClippingSearchTests {
    @Test(
        "the search never does worse than absmax clipping",
        arguments: ClippingCase.allCases, [8, 6, 4]
    )
    func neverWorseThanAbsMax(input: ClippingCase, bits: Int) {
        let w = input.values
        let result = mseClippingSearch(w, bits: bits)
        let absMaxMSE = meanSquaredError(fakeQuantizedSymmetric(w, rows: 1, columns: w.count, granularity: .perTensor, bits: bits).values, w)
        #expect(result.meanSquaredError <= absMaxMSE)
        // The last grid point is absmax itself, quantised exactly as the per-tensor path does.
        #expect(result.absMaxMeanSquaredError == absMaxMSE)
        var quantised = w
        quantised.withUnsafeMutableBufferPointer { fakeQuantizeSymmetric($0, scale: result.scale, bits: bits) }
        #expect(meanSquaredError(quantised, w) == result.meanSquaredError)
    }

    @Test("heavy-tailed weights at 4 bits choose a threshold well below absmax")
    func clipsHeavyTails() {
        let result = mseClippingSearch(ClippingCase.heavyTailed.values, bits: 4)
        #expect(result.candidate < 60)
        #expect(result.meanSquaredError < 0.8 * result.absMaxMeanSquaredError)
    }

    @Test("the grid is absmax·k/100 and the scale is threshold/q_max")
    func gridDefinition() {
        let w = ClippingCase.plantedOutlier.values
        let result = mseClippingSearch(w, bits: 8)
        #expect(result.threshold == Float(1.0 * Double(result.candidate) / 100))
        #expect(result.scale == result.threshold / 127)
    }
}
