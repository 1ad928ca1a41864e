import OLCore
import OLMetrics
import OLQuant

/// What a run measures: the probe batch at every log step, and validation and W8A8 perplexity at the end.
extension Trainer {
    /// Probe loss and, when enabled, every outlier metric per tap on the fixed probe batch.
    public func probeMeasurements() -> ProbeReport {
        ProbeReport(model: model, probe: probe, metrics: config.metrics, linearTaps: config.linearTaps, diagnostics: config.diagnostics)
    }

    func logRecord(loss: Double?, gradNorm: Double?, tokensPerSecond: Double?) throws -> JSONValue {
        let probe = probeMeasurements()
        let members: [JSONMember] = [
            JSONMember("step", .int(Int64(step))),
            JSONMember("loss", loss.map(JSONValue.double) ?? .null),
            JSONMember("probe_loss", .double(probe.loss)),
            JSONMember("lr", .double(schedule.rate(at: max(0, step - 1)))),
            JSONMember("grad_norm", gradNorm.map(JSONValue.double) ?? .null),
            JSONMember("tokens_per_s", tokensPerSecond.map(JSONValue.double) ?? .null),
        ]
        var decomposition: [JSONMember] = []
        if let keys = kurtosisUpdates.first?.keyedTotals.map(\.key) {
            decomposition = keys.indices.map { k in JSONMember(keys[k], .array(kurtosisUpdates.map { .double($0.keyedTotals[k].value) })) }
        }
        return .object(members + probe.perTapMembers + decomposition)
    }

    /// Mean token cross-entropy over the fixed validation windows (summed in Double in window order).
    public func validationLoss() throws -> Double {
        try validationLosses().mean
    }

    /// Per-window and mean token cross-entropy over the fixed validation windows.
    public func validationLosses() throws -> WindowLosses {
        try windowLosses(model: model, windows: windows, batch: config.batch)
    }

    func summaryRecord(wallSeconds: Double) throws -> JSONValue {
        let validation = try validationLosses()
        // The W8A8-naive perplexity (OLQuant's Quantisation article) on the same windows, up to 64 windows per forward call so the
        // dynamic activation scale spans at least 64 windows: the number the paper's quantisation claims
        // are about, recorded for every run.
        let quantised = try QuantizedEvaluation.evaluate(config: config.model, parameters: model.parameters, windows: windows,
                                                         settings: .naive8, batch: QuantizedEvaluation.defaultBatch(windows),
                                                         calibration: nil)
        let probe = probeMeasurements()
        let blas = BLASInfo.current
        let delta = quantised.deltaPPLInterval
        let members: [JSONMember] = [
            JSONMember("steps", .int(Int64(step))),
            JSONMember("final_loss", .double(probe.loss)),
            JSONMember("val_loss", .double(validation.mean)),
            JSONMember("val_ppl", .double(validation.perplexity)),
            JSONMember("val_ppl_ci95", validation.perplexityInterval.json),
            JSONMember("val_windows", .int(Int64(windows.count))),
            JSONMember("val_tokens", .int(Int64(windows.tokenCount))),
            JSONMember("val_ppl_w8a8_naive", .double(quantised.pplQuant)),
            JSONMember("w8a8_naive_ratio", .double(quantised.ratio)),
            JSONMember("w8a8_naive_delta_ppl_ci95", delta.json),
            JSONMember("w8a8_naive_eval_batch", .int(Int64(quantised.batch))),
            JSONMember("val_ppl_resolution", delta.methodJSON),
            JSONMember("wall_time_s", .double(wallSeconds)),
            JSONMember("tokens_per_s", .double(Double(step * config.batch * config.model.seq) / max(wallSeconds, 1e-9))),
            JSONMember("parameters", .int(Int64(model.parameters.layout.parameterCount))),
            JSONMember("blas", blas.json),
            JSONMember("harness_version", .string(Harness.version)),
            JSONMember("corpus", corpus.summary),
        ]
        return .object(members + probe.summaryMembers)
    }
}
