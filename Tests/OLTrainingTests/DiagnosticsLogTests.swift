import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

@Suite("Diagnostics in metrics.jsonl", .serialized)
struct DiagnosticsLogTests {
    @Test("diagnostics log where the outliers live at every log step and leave the training bits unchanged")
    func loggedAndHarmless() throws {
        let plain = try tinyConfig(steps: 20)
        var diagnosed = plain
        diagnosed.diagnostics = true
        let a = try scratchDirectory("diag-off"), b = try scratchDirectory("diag-on")
        try Trainer(config: plain, directory: a).run()
        try Trainer(config: diagnosed, directory: b).run()
        let off = try Safetensors.read(a + "/model.safetensors").metadata["tensors_sha256"]
        let on = try Safetensors.read(b + "/model.safetensors").metadata["tensors_sha256"]
        #expect(off != nil && off == on, "parameters, optimiser state and data cursor are bitwise those of the run without diagnostics")
        let keys = ["max_abs_pos0", "max_abs_rest", "mmr_pos0", "mmr_rest", "attention_mass_pos0",
                    "qkv_in_peak_mmr", "attn_proj_in_peak_mmr", "fc_in_peak_mmr", "mlp_proj_in_peak_mmr"]
        let logged = try FileBytes.readText(b + "/metrics.jsonl").split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(logged.count == 3, "steps 0, 10 and 20")
        for record in logged {
            for key in keys {
                let count = key.hasPrefix("max_") || key.hasPrefix("mmr_") ? 3 : 2  // L + 1 taps, or L layers / blocks
                #expect(record[key]?.arrayValue?.count == count, "\(key) at step \(record["step"]?.intValue ?? -1)")
            }
            // Causal attention gives key 0 between 1/T (uniform) and 1 (a sink): the mean lies in [1/T, 1].
            for mass in record["attention_mass_pos0"]?.arrayValue ?? [] {
                let value = try #require(mass.doubleValue)
                #expect(value >= 1.0 / 32 - 1e-6 && value <= 1 + 1e-6)
            }
        }
        let offRecords = try FileBytes.readText(a + "/metrics.jsonl").split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(offRecords.allSatisfy { record in keys.allSatisfy { record[$0] == nil } }, "nothing is logged when off")
    }
}
