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

    @Test("every linear input and output, norm output and residual sum is calibrated, in forward order, over every batch")
    func sites() throws {
        let ranges = try calibrate(fixture.calibration)
        let expected: [ActivationSite] = (0..<fixture.config.layers).flatMap { l -> [ActivationSite] in
            [.normOutput(layer: l, index: 0), .linearInput(layer: l, linear: .qkv), .linearOutput(layer: l, linear: .qkv),
             .linearInput(layer: l, linear: .attnProj), .linearOutput(layer: l, linear: .attnProj), .residual(layer: l, index: 0),
             .normOutput(layer: l, index: 1), .linearInput(layer: l, linear: .fc), .linearOutput(layer: l, linear: .fc),
             .linearInput(layer: l, linear: .mlpProj), .linearOutput(layer: l, linear: .mlpProj), .residual(layer: l, index: 1)]
        }
        #expect(ranges.map(\.site) == expected)
        #expect(ranges.allSatisfy { $0.observer.batches == 4 && $0.observer.momentum == 0.9 })
        // ReLU output feeds mlp_proj: its range starts at exactly 0, so the zero point is 0.
        #expect(ranges.first { $0.site == .linearInput(layer: 0, linear: .mlpProj) }?.quantization.zeroPoint == 0)
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
        let range = try #require(ranges.first)
        #expect(range.site == .normOutput(layer: 0, index: 0))
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
