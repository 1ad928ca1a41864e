import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

@Suite("olab quantize on the command line", .serialized)
struct QuantizeCommandTests {
    /// A trained tiny run, shared by these cases and ReportCommandTests (training is the expensive part).
    static let run: String? = {
        guard let directory = try? scratchDirectory("cli-quantize") else { return nil }
        let trained = try? runOlab(["train"] + tinyModelFlags + ["--steps", "30", "--out", directory + "/run"])
        return trained?.status == 0 ? directory : nil
    }()

    @Test("olab eval on the exported file prints the quantised perplexity olab eval --quant measured, exactly", arguments: [
        ("w8a8-naive", 8), ("w8a8-fine", 6), ("w8a8-static", 4), ("a8-only", 8),
    ])
    func exportedFileReproducesItsPerplexity(scheme: String, bits: Int) throws {
        let directory = try #require(Self.run, "training the tiny run failed")
        let model = directory + "/run/model.safetensors", file = directory + "/q-\(scheme)-\(bits).safetensors"
        let exported = try runOlab(["quantize", "--checkpoint", model, "--scheme", scheme, "--bits", "\(bits)", "--out", file])
        try #require(exported.status == 0, "stderr: \(exported.err)")
        let direct = try runOlab(["eval", "--checkpoint", model, "--quant", scheme, "--bits", "\(bits)"])
        let reloaded = try runOlab(["eval", "--checkpoint", file])
        try #require(direct.status == 0 && reloaded.status == 0, "stderr: \(direct.err) \(reloaded.err)")
        let measured = try JSONValue.parse(direct.out, source: "eval --quant"), again = try JSONValue.parse(reloaded.out, source: "eval Q")
        let expected = try #require(measured["ppl_quant"]?.doubleValue), actual = try #require(again["ppl_quant"]?.doubleValue)
        #expect(actual.bitPattern == expected.bitPattern, "\(actual) vs \(expected)")
        #expect(again["matches_recorded"] == .bool(true))
        let metadata = try Safetensors.read(file).metadata
        #expect(metadata["scheme"] == scheme && metadata["bits"] == "\(bits)" && metadata["format"] == QuantizedCheckpoint.format)
    }

    @Test("asking to quantise an exported file again is one clear line")
    func quantisedFileIsNotQuantisedTwice() throws {
        let directory = try #require(Self.run, "training the tiny run failed")
        let file = directory + "/q-twice.safetensors"
        _ = try runOlab(["quantize", "--checkpoint", directory + "/run/model.safetensors", "--out", file])
        let again = try runOlab(["eval", "--checkpoint", file, "--quant", "w8a8-naive"])
        #expect(again.status == 2 && again.err.contains("already quantised") && again.err.split(separator: "\n").count == 1, "stderr: \(again.err)")
    }
}
