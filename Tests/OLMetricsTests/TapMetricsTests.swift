import Foundation
import Testing
import OLCore
import OLMetrics

@Suite("Per-tap metrics report")
struct TapMetricsTests {
    @Test("the report holds the same values as the individual metric functions")
    func matchesIndividualFunctions() {
        let (n, d) = (80, 24)
        var x = gaussianMatrix(rows: n, width: d, seed: 71)
        for row in 0..<n { x[row * d + 4] *= 20 }
        let report = TapMetrics(activations: x, rows: n, width: d)
        let propagation = signalPropagation(x, rows: n, width: d)
        #expect(report.kurtosis == kurtosis(x, rows: n, width: d))
        #expect(report.maxMedianRatio == maxMedianRatio(x, rows: n, width: d))
        #expect(report.maxMedianRatioCentred == maxMedianRatio(x, rows: n, width: d, centringRows: true))
        #expect(report.activationRMS == activationRMS(x, rows: n, width: d))
        #expect(report.tokenCorrMean == propagation.tokenCorrMean)
        #expect(report.tokenCorrRMS == propagation.tokenCorrRMS)
        #expect(report.featureCorrRMS == propagation.featureCorrRMS)
        #expect(report.tokenCosineMean == propagation.tokenCosineMean)
        // The report takes v_j from the Gram diagonal (4-lane dot products), the function from a row sweep.
        #expect(abs(report.kurtosisCentred - kurtosisCentred(x, rows: n, width: d)) < 1e-12)
    }

    @Test("log keys are snake_case, in a fixed order, and are the JSON keys")
    func keys() throws {
        let expected = [
            "kurtosis", "kurtosis_centred", "mmr", "mmr_centred", "token_corr_mean", "token_corr_rms", "feature_corr_rms",
            "token_cosine_mean", "activation_rms",
        ]
        #expect(TapMetrics.keys == expected)
        let report = TapMetrics(activations: gaussianMatrix(rows: 8, width: 8, seed: 72), rows: 8, width: 8)
        let data = try JSONEncoder().encode(report)
        let json = try JSONDecoder().decode([String: Double].self, from: data)
        #expect(Set(json.keys) == Set(expected))
        #expect(try JSONDecoder().decode(TapMetrics.self, from: data) == report)
        for (key, value) in report.keyedValues {
            #expect(json[key] == value)
            #expect(report[key] == value)
        }
        #expect(report["kurt"] == nil)
    }

    @Test("layer mean and peak are metric-wise mean and maximum over taps")
    func summaries() throws {
        let taps = (0..<3).map { tap in
            var x = gaussianMatrix(rows: 32, width: 16, seed: 80 + UInt64(tap))
            for row in 0..<32 { x[row * 16] *= Float(1 + 5 * tap) }
            return TapMetrics(activations: x, rows: 32, width: 16)
        }
        let summary = try #require(TapMetricsSummary(taps))
        for key in TapMetrics.keys {
            let values = taps.map { $0[key]! }
            #expect(summary.layerMean[key] == (values[0] + values[1] + values[2]) / 3)
            #expect(summary.peak[key] == values.max())
        }
        #expect(summary.peak.kurtosis == taps[2].kurtosis)
        #expect(summary.keyedValues.count == 18 && summary.keyedValues[0].key == "mean_kurtosis")
        #expect(TapMetricsSummary([]) == nil)
    }

    @Test("a full-size tap (n = 2048, d = 256) with a planted outlier feature is measured consistently")
    func fullSizeTap() {
        let (n, d) = (2048, 256)
        let r: Float = 8
        let x = signMatrix(rows: n, width: d, seed: 90, outlier: 17, r: r)
        let report = Parallel.withWorkers(2) { TapMetrics(activations: x, rows: n, width: d) }
        let r2 = Double(r * r), dd = Double(d)
        // ±1/±r entries: Kurt in closed form; MMR of every row is r/1; RMS² = (r² + d − 1)/d.
        #expect(relativeError(report.kurtosis, dd * (r2 * r2 + dd - 1) / ((r2 + dd - 1) * (r2 + dd - 1))) < 1e-12)
        #expect(report.maxMedianRatio == Double(r))
        #expect(relativeError(report.activationRMS, ((r2 + dd - 1) / dd).squareRoot()) < 1e-12)
        #expect(report == Parallel.withWorkers(1) { TapMetrics(activations: x, rows: n, width: d) })
    }
}
