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
    /// An independent brute force over the documented grid: the squared error of every candidate, from
    /// the per-tensor quantiser with an explicit scale, and the first minimum.
    static func bruteForce(_ w: [Float], bits: Int) -> (candidate: Int, errors: [Double]) {
        let absMax = Double(w.map(abs).max()!)
        let errors = (1...100).map { k -> Double in
            let threshold = Float((absMax + 0.5) / 100 * Double(k))
            var quantised = w
            quantised.withUnsafeMutableBufferPointer { fakeQuantizeSymmetric($0, scale: max(threshold, 1e-5) / Float((1 << (bits - 1)) - 1), bits: bits) }
            return meanSquaredError(quantised, w) * Double(w.count)
        }
        return (errors.firstIndex(of: errors.min()!)! + 1, errors)
    }

    @Test("the chosen candidate is the first minimum over the grid k·(absmax + 0.5)/100", arguments: ClippingCase.allCases, [8, 6, 4])
    func matchesBruteForce(input: ClippingCase, bits: Int) {
        let w = input.values
        let result = mseClippingSearch(w, bits: bits)
        let reference = Self.bruteForce(w, bits: bits)
        #expect(result.candidate == reference.candidate)
        // Same Double sums in the same order, divided by n: equal to rounding of one division.
        let expected = reference.errors[reference.candidate - 1] / Double(w.count)
        #expect(abs(result.meanSquaredError - expected) <= 1e-12 * max(expected, 1e-300))
        var quantised = w
        quantised.withUnsafeMutableBufferPointer { fakeQuantizeSymmetric($0, scale: result.scale, bits: bits) }
        #expect(abs(meanSquaredError(quantised, w) - result.meanSquaredError) <= 1e-12 * max(result.meanSquaredError, 1e-300))
    }

    @Test("the grid is (absmax + 0.5)·k/100 and the scale is threshold/q_max")
    func gridDefinition() {
        let w = ClippingCase.plantedOutlier.values    // absmax exactly 1
        let result = mseClippingSearch(w, bits: 8)
        #expect(result.threshold == Float(1.5 / 100 * Double(result.candidate)))
        #expect(result.scale == result.threshold / 127)
        let absMaxMSE = meanSquaredError(fakeQuantizedSymmetric(w, rows: 1, columns: w.count, granularity: .perTensor, bits: 8).values, w)
        #expect(result.absMaxMeanSquaredError == absMaxMSE)
    }

    @Test("ties keep the smaller threshold: an all-zero tensor takes the first candidate")
    func tiesKeepTheFirstCandidate() {
        let result = mseClippingSearch(ClippingCase.allZero.values, bits: 8)
        #expect(result.candidate == 1 && result.meanSquaredError == 0)
    }

    @Test("heavy-tailed weights at 4 bits choose a threshold well below absmax")
    func clipsHeavyTails() {
        let w = ClippingCase.heavyTailed.values
        let result = mseClippingSearch(w, bits: 4)
        #expect(Double(result.threshold) < 0.6 * Double(w.map(abs).max()!))
        #expect(result.meanSquaredError < 0.8 * result.absMaxMeanSquaredError)
    }
}
