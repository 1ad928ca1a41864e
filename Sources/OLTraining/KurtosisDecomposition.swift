import OLCore
import OLMetrics

/// The kurtosis-update decomposition (OLMetrics' Metrics article): every step's ΔX on the probe batch, per tap.
extension Trainer {
    /// The residual taps of the current parameters on the probe batch.
    func probeTaps() -> [[Float]] {
        let B = probe.batchSize, T = probe.sequenceLength
        probe.inputs.withUnsafeBufferPointer { x in _ = model.forward(tokens: x, targets: nil, B: B, T: T) }
        return (0...config.model.layers).map { Array(model.tap($0)) }
    }

    /// Adds the decomposition of the step just taken: ΔX of every tap between the probe activations
    /// before and after the update.
    func accumulateKurtosisUpdates() {
        let after = probeTaps()
        let rows = probe.batchSize * probe.sequenceLength
        for tap in after.indices {
            kurtosisUpdates[tap].add(kurtosisUpdateTerms(before: previousTaps[tap], after: after[tap], rows: rows, width: config.model.width))
        }
        previousTaps = after
    }

    /// `train.kurtosis_update` (L+1, 9) F64: per tap the step count and the eight running totals.
    var kurtosisUpdateTensor: NamedTensor {
        let values = kurtosisUpdates.flatMap { [Double($0.steps)] + $0.keyedTotals.map(\.value) }
        return NamedTensor(name: "train.kurtosis_update", shape: [kurtosisUpdates.count, 9], values: .float64(values))
    }

    static func kurtosisUpdates(from state: [NamedTensor], config: TrainingConfig) throws -> [KurtosisUpdateAccumulator] {
        guard let tensor = state.first(where: { $0.name == "train.kurtosis_update" }) else {
            return []
        }
        let taps = config.model.layers + 1
        guard tensor.shape == [taps, 9], let values = tensor.doubles else {
            throw OutlierLabError("train.kurtosis_update has shape \(tensor.shape) \(tensor.values.dtype), expected [\(taps), 9] F64")
        }
        return (0..<taps).map { KurtosisUpdateAccumulator(steps: Int(values[9 * $0]), totals: Array(values[9 * $0 + 1 ..< 9 * $0 + 9])) }
    }
}
