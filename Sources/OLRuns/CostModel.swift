import OLTraining

/// Predicted time of a run on one core from its size, so `--dry-run` and progress ETAs mean something
/// before any run finishes. Multiply-adds per training step ≈ 3 × (forward matmuls + attention); metrics at
/// each log add a d×d Gram per tap on the probe batch; every evaluation is one forward pass over the
/// `eval_windows` validation windows: three at the end of training (validation loss, and the summary's
/// float and W8A8-naive passes), then, when the audit asks for quantised measurements, one shared float
/// pass and one per measurement. The rates are measured on the development machine.
public struct CostModel: Sendable {
    /// Multiply-adds per second of one single-threaded run while another runs beside it on the second
    /// core (the local backend's default). Measured on the quick audit of 22 claims, 87 runs (d=64, T=64,
    /// B=16, 400 steps, linear-input taps, 1024 evaluation windows) on two workers: 14 min 24 s on
    /// 2026-12-01 (1.5× what 2.7e10 predicted, hence 1.8e10), 13 min 22 s on 2026-12-02 after the round-3
    /// kernels, with evaluation folded into the rate. Issue 29 measured the same audit at 17 min 54 s on
    /// another machine of our kind; counting the evaluation passes separately (audit v3) raises the
    /// estimate of that audit by about a quarter, towards that measurement, and keeps the rate.
    public var trainingRate: Double
    /// Extra factor for optimisers with eigenbases (SOAP, rotated AdaFactor): 20–23 s for the same runs.
    public var rotatedFactor: Double

    public static let measured = CostModel(trainingRate: 1.95e10, rotatedFactor: 1.3)

    public func seconds(_ config: TrainingConfig, quantisedEvaluations: Int = 0) -> Double {
        let d = Double(config.model.width), L = Double(config.model.layers), T = Double(config.model.seq)
        let vocab = Double(config.model.vocab)
        func forward(rows: Double) -> Double { rows * (L * (12 * d * d + 2 * T * d) + vocab * d) }
        var macs = 3 * forward(rows: Double(config.batch) * T) * Double(config.steps)
        let logs = Double(config.steps / config.logEvery + 1)
        let probeRows = Double(config.probeBatch) * T
        macs += logs * (forward(rows: probeRows) + (config.metrics ? (L + 1) * probeRows * d * d : 0))
        let evaluationPasses = 3 + (quantisedEvaluations > 0 ? 1 + quantisedEvaluations : 0)
        let evaluation = Double(evaluationPasses) * forward(rows: Double(config.evalWindows) * T)
        let optimiser = ["soap", "rotated-adafactor", "adam-random-rotation"].contains(config.optimizer) ? rotatedFactor : 1
        let decomposition = config.kurtosisDecomposition ? 4.0 / 3.0 : 1  // one probe forward per step
        return (macs * optimiser * decomposition + evaluation) / trainingRate
    }
}
