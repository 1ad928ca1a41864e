import OLCore

/// N(0, std²) samples from the `tests` stream of `seed`.
func gaussian(count: Int, seed: UInt64, std: Double = 1) -> [Float] {
    var rng = RandomStream(seed: seed, purpose: "tests")
    return (0..<count).map { _ in Float(std * rng.nextNormal()) }
}

/// Mean squared difference, in Double.
func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { sum, pair in
        let e = Double(pair.0) - Double(pair.1)
        return sum + e * e
    } / Double(a.count)
}

import OLData
import OLModel
import OLQuant

/// A small trained model, its data and windows, shared by the whole-model tests (built once).
struct TrainedFixture: @unchecked Sendable {
    let config: ModelConfig
    let parameters: FloatArena
    let corpus: ByteCorpus
    let windows: EvaluationWindows
    /// Windows per forward call in every evaluation.
    let batch = 8

    /// preLN, d = 32, L = 2, H = 4, T = 32, trained with plain Adam (lr 3e-3, β = 0.9/0.99, no decay) for
    /// `steps` steps of 8 crops on 64 KiB of synthetic code: far enough from init that quantisation noise
    /// in the blocks moves the loss, small enough to train in seconds.
    static let shared = try! TrainedFixture(steps: 150)
    /// The same architecture at initialisation (no training).
    static let untrained = try! TrainedFixture(steps: 0)

    init(steps: Int) throws {
        let config = ModelConfig(width: 32, layers: 2, heads: 4, seq: 32)
        self.config = config
        corpus = try SyntheticCorpus.corpus(seed: 0, byteCount: 1 << 16, trainFraction: 0.9)
        windows = try EvaluationWindows(validation: corpus.validation, count: 32, sequenceLength: config.seq)
        let model = try GPT(config: config, seed: 0, maxBatch: 8)
        var sampler = try BatchSampler(train: corpus.train, batchSize: 8, sequenceLength: config.seq, seed: 0)
        let n = 8 * config.seq
        var inputs = [Int32](repeating: 0, count: n), targets = inputs
        let count = model.parameters.storage.count
        var m = [Float](repeating: 0, count: count), v = m
        let (lr, b1, b2, eps): (Float, Float, Float, Float) = (3e-3, 0.9, 0.99, 1e-8)
        for step in 1...max(steps, 1) where steps > 0 {
            inputs.withUnsafeMutableBufferPointer { x in targets.withUnsafeMutableBufferPointer { y in sampler.next(inputs: x, targets: y) } }
            inputs.withUnsafeBufferPointer { x in targets.withUnsafeBufferPointer { y in
                _ = model.forward(tokens: x, targets: y, B: 8, T: config.seq)
            } }
            model.zeroGradients()
            model.backward()
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            let p = model.parameters.storage, g = model.gradients.storage
            for i in 0..<count {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
        }
        parameters = model.parameters
    }

    /// A copy with a planted outlier feature (see `plantOutlier`).
    func planted(channel: Int = 0, factor: Float = 32) -> FloatArena {
        let copy = parameters.clone()
        plantOutlier(copy, config: config, channel: channel, factor: factor)
        return copy
    }

    func evaluate(_ settings: QuantSettings, parameters: FloatArena? = nil) throws -> QuantEvaluationResult {
        try QuantizedEvaluation.evaluate(config: config, parameters: parameters ?? self.parameters, windows: windows,
                                         settings: settings, batch: batch, calibration: calibration)
    }

    var calibration: StaticCalibration { StaticCalibration(train: corpus.train, batches: 4, batchSize: 8, seed: 0) }
}

/// Plants an outlier feature in a preLN model without changing its float function (`OutlierPlanting`).
func plantOutlier(_ parameters: FloatArena, config: ModelConfig, channel: Int, factor: Float) {
    precondition(config.block == .preLN, "the planted-outlier tests use preLN")
    do { try OutlierPlanting.plant(parameters, config: config, channel: channel, factor: factor) } catch { preconditionFailure("\(error)") }
}

extension QuantSettings {
    init(_ scheme: QuantScheme, _ bits: Int = 8) { try! self.init(scheme: scheme, bits: bits) }
}

/// Every value of a buffer, for bit-exact comparisons.
func snapshot(_ arena: FloatArena) -> [UInt32] { arena.storage.map(\.bitPattern) }
