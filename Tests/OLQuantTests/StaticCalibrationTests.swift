import OLTestSupport
import Testing
import OLCore
import OLModel
@testable import OLQuant

@Suite("Static calibration")
struct StaticCalibrationTests {
    let fixture = TrainedFixture.shared

    func calibrate(_ calibration: StaticCalibration, parameters: FloatArena? = nil) throws -> [CalibratedRange] {
        try QuantizedModel.calibrate(config: fixture.config, parameters: parameters ?? fixture.parameters, calibration: calibration, bits: 8)
    }

    @Test("calibrating twice gives identical ranges, and the parameters are only read")
    func deterministic() throws {
        let before = snapshot(fixture.parameters)
        let first = try calibrate(fixture.calibration), second = try calibrate(fixture.calibration)
        #expect(first == second)
        expectBitwiseEqual(snapshot(fixture.parameters), before, "float parameters after quantised evaluation")
    }

    @Test("the embedding sum, every linear input and output, attention score and probability, norm output and residual sum is calibrated, in forward order, over every batch")
    func sites() throws {
        let ranges = try calibrate(fixture.calibration)
        let blocks: [ActivationSite] = (0..<fixture.config.layers).flatMap { l -> [ActivationSite] in
            [.normOutput(layer: l, index: 0), .linearInput(layer: l, linear: .qkv), .linearOutput(layer: l, linear: .qkv),
             .attentionScores(layer: l), .attentionProbabilities(layer: l),
             .linearInput(layer: l, linear: .attnProj), .linearOutput(layer: l, linear: .attnProj), .residual(layer: l, index: 0),
             .normOutput(layer: l, index: 1), .linearInput(layer: l, linear: .fc), .linearOutput(layer: l, linear: .fc),
             .linearInput(layer: l, linear: .mlpProj), .linearOutput(layer: l, linear: .mlpProj), .residual(layer: l, index: 1)]
        }
        #expect(ranges.map(\.site) == [.embeddingSum] + blocks + [.finalNormOutput])
        #expect(ranges.allSatisfy { $0.observer.batches == 4 && $0.observer.momentum == 0.9 })
        // fc's output is taken after the ReLU (as Bondarenko et al. quantise it) and feeds mlp_proj: both
        // ranges start at exactly 0, so the zero point is 0.
        for site in [ActivationSite.linearOutput(layer: 0, linear: .fc), .linearInput(layer: 0, linear: .mlpProj)] {
            let range = try #require(ranges.first { $0.site == site })
            #expect(range.observer.minimum == 0 && range.quantization.zeroPoint == 0, "\(site.name)")
        }
        // Probabilities: the first query's row is exactly 1, and only causal entries are observed — the
        // masked zeros above the diagonal would pull the minimum to 0.
        for l in 0..<fixture.config.layers {
            let probabilities = try #require(ranges.first { $0.site == .attentionProbabilities(layer: l) })
            #expect(probabilities.observer.maximum == 1 && probabilities.observer.minimum! > 0, "layer \(l)")
            #expect(probabilities.quantization.zeroPoint == 0)
        }
    }

    @Test("an OP model also calibrates its QK-norm outputs, and has no final norm to calibrate")
    func qkNormSites() throws {
        var config = fixture.config
        config.block = .op
        let parameters = FloatArena(layout: config.parameterLayout())
        config.initialize(parameters, seed: 5)
        let ranges = try QuantizedModel.calibrate(config: config, parameters: parameters, calibration: fixture.calibration, bits: 8)
        let sites = ranges.map(\.site)
        let qkNorm = try #require(sites.firstIndex(of: .queryKeyNormOutput(layer: 0)))
        #expect(sites[qkNorm + 1] == .attentionScores(layer: 0) && sites[qkNorm + 2] == .attentionProbabilities(layer: 0))
        #expect(!sites.contains(.finalNormOutput))
    }

    @Test("attention ranges, collected row by row on the workers, are identical for 1 and 2 workers")
    func attentionRangesIgnoreWorkerCount() throws {
        let one = try Parallel.withWorkers(1) { try calibrate(fixture.calibration) }
        let two = try Parallel.withWorkers(2) { try calibrate(fixture.calibration) }
        #expect(one.count == two.count)
        let differing = zip(one, two).first { $0.0 != $0.1 }
        #expect(differing == nil, "first differing site: \(differing.map { "\($0.0.site.name): \($0.0.observer) vs \($0.1.observer)" } ?? "")")
    }

    @Test("calibration crops come from the train split and the ranges follow the train bytes")
    func usesTrainSplit() throws {
        let calibration = fixture.calibration
        let T = fixture.config.seq
        let starts = try calibration.cropStarts(sequenceLength: T)
        #expect(starts.count == 4 && starts.allSatisfy { $0.count == 8 && $0.allSatisfy { (0..<(calibration.train.count - T)).contains($0) } })
        // The same options over other bytes (the validation split) give other ranges: the train bytes are what is observed.
        var other = calibration
        other.train = fixture.corpus.validation
        #expect(try calibrate(other) != (try calibrate(calibration)))
        // And the seed picks the crops.
        var reseeded = calibration
        reseeded.seed = 1
        #expect(try reseeded.cropStarts(sequenceLength: T) != starts)
    }

    @Test("with one batch the range of the first norm output is that batch's exact min and max")
    func oneBatchRange() throws {
        var calibration = fixture.calibration
        calibration.batches = 1
        let ranges = try calibrate(calibration)
        let T = fixture.config.seq
        let starts = try calibration.cropStarts(sequenceLength: T)[0]
        let tokens = starts.flatMap { start in calibration.train[start ..< start + T].map(Int32.init) }
        let model = try GPT(config: fixture.config, parameters: fixture.parameters, maxBatch: 8)
        let probe = FirstSite()
        _ = tokens.withUnsafeBufferPointer { model.forward(tokens: $0, targets: nil, B: 8, T: T, transform: probe) }
        let range = try #require(ranges.first { $0.site == .normOutput(layer: 0, index: 0) })
        #expect(range.observer.minimum == Double(probe.minimum) && range.observer.maximum == Double(probe.maximum))
    }

    @Test("a percentile option narrows the ranges and is recorded")
    func percentile() throws {
        var calibration = fixture.calibration
        calibration.percentile = 99.9
        let clipped = try calibrate(calibration), full = try calibrate(fixture.calibration)
        #expect(zip(clipped, full).allSatisfy { $0.observer.maximum! <= $1.observer.maximum! && $0.observer.minimum! >= $1.observer.minimum! })
        #expect(zip(clipped, full).contains { $0.observer.maximum! < $1.observer.maximum! })
        #expect(calibration.json["percentile"] == 99.9)
    }

    @Test("bad calibration options are one-line errors", arguments: [(0, 8), (4, 0)])
    func badOptions(batches: Int, batchSize: Int) {
        let calibration = StaticCalibration(train: fixture.corpus.train, batches: batches, batchSize: batchSize)
        #expect(throws: OutlierLabError.self) { try calibration.cropStarts(sequenceLength: 32) }
    }
}

/// Records the min and max of the first norm output.
final class FirstSite: ActivationTransform {
    var minimum = Float.infinity, maximum = -Float.infinity
    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        guard site == .normOutput(layer: 0, index: 0) else { return }
        for v in values { minimum = min(minimum, v); maximum = max(maximum, v) }
    }
}
