import Testing
import OLCore
import OLModel
@testable import OLQuant

/// The requirement: an outlier feature hurts naive per-tensor quantisation. The outlier is
/// planted by `plantOutlier` (channel 0 of both pre-norms × 128, the matching weight columns ÷ 128), which
/// leaves the float model bit-identical, so any change in quantised perplexity is due to the outlier.
@Suite("Planted outlier feature")
struct PlantedOutlierTests {
    let fixture = TrainedFixture.shared
    var planted: FloatArena { fixture.planted(channel: 0, factor: 128) }

    @Test("planting the outlier leaves the float model bit-identical")
    func floatUnchanged() throws {
        let plain = try fixture.evaluate(QuantSettings(.w8a8Naive))
        let outlier = try fixture.evaluate(QuantSettings(.w8a8Naive), parameters: planted)
        #expect(outlier.loss == plain.loss)
    }

    @Test("the planted channel dominates the inputs of qkv and fc")
    func channelDominates() throws {
        let quantized = try QuantizedModel(config: fixture.config, parameters: planted, settings: QuantSettings(.a8Only), maxBatch: 8)
        var ratios: [String: Float] = [:]
        // Record the quantised qkv/fc inputs: channel 0's absmax over other channels' absmax.
        quantized.transform!.recorder = { site, _, values, rows, cols, _ in
            guard case .linearInput(_, let linear) = site, linear == .qkv || linear == .fc else { return }
            var planted: Float = 0, others: Float = 0
            for r in 0..<rows {
                planted = max(planted, abs(values[r * cols]))
                for c in 1..<cols { others = max(others, abs(values[r * cols + c])) }
            }
            ratios[site.name] = planted / max(others, .leastNonzeroMagnitude)
        }
        let T = fixture.config.seq
        var x = [Int32](repeating: 0, count: 8 * T), y = x
        x.withUnsafeMutableBufferPointer { x in y.withUnsafeMutableBufferPointer { y in fixture.windows.fill(first: 0, rows: 8, inputs: x, targets: y) } }
        x.withUnsafeBufferPointer { x in _ = quantized.model.forward(tokens: x, targets: nil, B: 8, T: T, transform: quantized.transform) }
        #expect(ratios.count == 4)
        // LN outputs of the unplanted model have per-channel absmax within a factor of a few of each other,
        // so ×128 leaves channel 0 at least ~10× above the rest.
        for (name, ratio) in ratios { #expect(ratio > 10, "\(name): \(ratio)") }
    }

    @Test("w8a8-naive degrades much more with the outlier than without it")
    func naiveDegradesWithOutlier() throws {
        // Measured ratios: 1.0002 without, 1.1065 with the outlier (channels 5 and 17: 1.085, 1.070).
        let plain = try fixture.evaluate(QuantSettings(.w8a8Naive))
        let outlier = try fixture.evaluate(QuantSettings(.w8a8Naive), parameters: planted)
        #expect(abs(plain.ratio - 1) < 0.01, "plain ratio \(plain.ratio)")
        #expect(outlier.ratio > 1.05, "planted ratio \(outlier.ratio)")
        #expect(outlier.deltaPPL > plain.deltaPPL + 0.3, "Δ plain \(plain.deltaPPL), Δ planted \(outlier.deltaPPL)")
    }

    @Test("w8a8-naive degrades more than w8a8-fine on the outlier model")
    func naiveWorseThanFine() throws {
        // Measured ratios with the outlier: naive 1.1065, fine 1.0146 (channels 5/17: 0.999/1.041 vs 1.085/1.070):
        // per-token scales follow each token's own outlier magnitude instead of the batch maximum.
        let naive = try fixture.evaluate(QuantSettings(.w8a8Naive), parameters: planted)
        let fine = try fixture.evaluate(QuantSettings(.w8a8Fine), parameters: planted)
        #expect(fine.ratio - 1 < (naive.ratio - 1) / 2, "naive \(naive.ratio), fine \(fine.ratio)")
    }
}
