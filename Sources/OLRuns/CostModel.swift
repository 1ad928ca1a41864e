import OLTraining

/// Predicted time of a run on one core from its size, so `--dry-run` and progress ETAs mean something
/// before any run finishes. Multiply-adds per training step ≈ 3 × (forward matmuls + attention); metrics at
/// each log add a d×d Gram per tap on the probe batch; every evaluation is one forward pass over the
/// `eval_windows` validation windows: three at the end of training (validation loss, and the summary's
/// float and W8A8-naive passes), then, when the audit asks for quantised measurements, one shared float
/// pass and one per measurement. The rates are measured on the development machine.
public struct CostModel: Sendable {
    /// Multiply-adds per second of one single-threaded run while another runs beside it on the second
    /// core (the local backend's default). First measured on the quick audit of 22 claims, 87 runs (d=64,
    /// T=64, B=16, 400 steps, linear-input taps, 1024 evaluation windows) on two workers: 14 min 24 s on
    /// 2026-12-01 (1.5× what 2.7e10 predicted, hence 1.8e10), 13 min 22 s on 2026-12-02 after the round-3
    /// kernels, with evaluation folded into the rate (1.95e10 from then on). Recalibrated on 2026-12-07 on
    /// the regime scale's long runs (12,500 steps, binary of b573431, both workers busy, kernel `Zen`),
    /// where 1.95e10 had predicted 8 min 09 s for an AdamW run that took 9.3–9.9 min: Pre-LN + AdamW
    /// 9.33–9.94 min of training, OP + AdamW 9.49, with clipped softmax 9.86, with gated attention 9.81,
    /// hence 1.6e10. The quick audit, whose short runs the old rate was fitted on, is checked against the
    /// new one in the Audit Results article.
    public var trainingRate: Double
    /// Extra factor for optimisers with eigenbases (SOAP, rotated AdaFactor): 20–23 s for the quick
    /// audit's runs against about 17 s for AdamW's; at the regime scale Pre-LN + SOAP trained in
    /// 10.85–12.5 min (median 11.96) against Pre-LN + AdamW's 9.9, OP + SOAP in 12.4 against OP + AdamW's
    /// 9.49: ×1.21 and ×1.31, hence 1.25.
    public var rotatedFactor: Double

    public static let measured = CostModel(trainingRate: 1.6e10, rotatedFactor: 1.25)

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
        // One probe forward per step, its tap copies and the Double sums: 66.9 s against 45.6 s for 1,000
        // regime steps of Pre-LN + AdamW on one core (2026-12-07), about 4 s of which do not scale with steps.
        let decomposition = config.kurtosisDecomposition ? 1.5 : 1
        return (macs * optimiser * decomposition + evaluation) / trainingRate
    }
}
