import Foundation
import OLCore
import OLData
import OLMetrics
import OLModel
import OLTestSupport
import Testing
@testable import OLTraining

/// Copies every linear layer's input as the forward pass hands it to an `ActivationTransform` (the copy
/// the quantisers rewrite), without changing anything: an independent route to the same values.
private final class LinearInputRecorder: ActivationTransform {
    var inputs: [String: (values: [Float], cols: Int)] = [:]
    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        guard case .linearInput(let layer, let linear) = site else { return }
        inputs["\(layer).\(linear.rawValue)"] = (Array(values), cols)
    }
}

/// Index of the first element whose bits differ, nil if none (and the lengths agree).
private func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
    if a.count != b.count { return min(a.count, b.count) }
    return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
}

@Suite("Linear-input taps")
struct LinearTapTests {
    static func probe(_ config: TrainingConfig) throws -> ProbeBatch {
        try ProbeBatch(validation: try config.loadCorpus().validation, batchSize: 2, sequenceLength: config.model.seq, seed: 1)
    }

    @Test("each linear-input tap is exactly the input its linear layer multiplied", arguments: BlockKind.allCases)
    func tapsAreTheLinearInputs(block: BlockKind) throws {
        let config = try tinyConfig(block: block.rawValue)
        let model = try GPT(config: config.model, seed: 3, maxBatch: 2)
        let probe = try Self.probe(config)
        let recorder = LinearInputRecorder()
        probe.inputs.withUnsafeBufferPointer { x in _ = model.forward(tokens: x, targets: nil, B: 2, T: config.model.seq, transform: recorder) }
        #expect(recorder.inputs.count == 4 * config.model.layers)
        for l in 0..<config.model.layers {
            for linear in LinearLayer.allCases {
                let tap = model.linearInput(layer: l, linear)
                let recorded = try #require(recorder.inputs["\(l).\(linear.rawValue)"])
                #expect(tap.width == recorded.cols, "h\(l).\(linear.rawValue)")
                #expect(firstDifference(Array(tap.values), recorded.values) == nil, "h\(l).\(linear.rawValue): first differing index")
            }
        }
    }

    @Test("with linear taps on, the probe report measures every linear input of every block; off, none")
    func probeReportMeasuresLinearInputs() throws {
        let config = try tinyConfig(block: "preLN")
        let model = try GPT(config: config.model, seed: 3, maxBatch: 2)
        let probe = try Self.probe(config)
        let off = ProbeReport(model: model, probe: probe)
        #expect(off.linearInputs.isEmpty)
        #expect(!off.perTapMembers.contains { $0.key.contains("_in_") })
        let on = ProbeReport(model: model, probe: probe, linearTaps: true)
        #expect(on.linearInputs.map(\.linear) == LinearLayer.allCases)
        for (linear, blocks) in on.linearInputs {
            #expect(blocks.count == config.model.layers)
            for (l, metrics) in blocks.enumerated() {
                let input = model.linearInput(layer: l, linear)
                // Same values through the same function: the report holds exactly these numbers.
                #expect(metrics == TapMetrics(activations: input.values, rows: 2 * config.model.seq, width: input.width))
            }
        }
        // The residual taps are unchanged by turning linear taps on (same forward, same probe).
        #expect(on.taps == off.taps && on.loss == off.loss)
        let keys = on.perTapMembers.map(\.key)
        #expect(keys.contains("qkv_in_kurtosis") && keys.contains("mlp_proj_in_mmr_centred") && keys.contains("fc_in_feature_corr_rms"))
        #expect(on.summaryMembers.map(\.key).contains("peak_attn_proj_in_kurtosis"))
    }

    @Test("a run with linear_taps logs <linear>_in_<metric> arrays over blocks in metrics.jsonl and summary.json")
    func trainerLogsLinearTaps() throws {
        var config = try tinyConfig(steps: 10)
        config.linearTaps = true
        let directory = try scratchDirectory("linear-taps")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Trainer(config: config, directory: directory).run()
        let lines = try FileBytes.readText(directory + "/metrics.jsonl").split(separator: "\n").map { try JSONValue.parse(String($0)) }
        for line in lines {
            for linear in LinearLayer.allCases {
                for key in TapMetrics.keys {
                    #expect(line[ProbeReport.linearInputKey(linear, key)]?.arrayValue?.count == config.model.layers, "\(linear) \(key)")
                }
            }
        }
        let summary = try JSONValue.parse(try FileBytes.readText(directory + "/summary.json"))
        #expect(summary["mean_fc_in_kurtosis"]?.doubleValue != nil)
    }

    @Test("linear_taps without metrics is a one-line config error")
    func needsMetrics() {
        #expect(throws: OutlierLabError("config: linear_taps needs metrics true: it logs the outlier metrics of the linear layers' inputs")) {
            try TrainingConfig(json: .object(["metrics": false, "linear_taps": true]))
        }
    }
}
