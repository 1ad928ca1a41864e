import Foundation
import OLCore
import OLTestSupport
import Testing
@testable import OLQuant

/// Every scheme at every bit width.
private let allSettings = QuantScheme.allCases.flatMap { scheme in QuantSettings.supportedBits.map { QuantSettings(scheme, $0) } }

/// The fake-quantised parameters with −0 written as +0: an I8 code of 0 dequantises to +0, the only bit
/// difference from fake quantisation there is (IEEE-equal, and no product or sum in the model can tell).
private func canonicalZeros(_ values: [Float]) -> [Float] { values.map { $0 == 0 ? 0 : $0 } }

@Suite("exported quantised models (olab quantize)")
struct QuantizedTensorsTests {
    let fixture = TrainedFixture.shared

    func quantized(_ settings: QuantSettings) throws -> QuantizedModel {
        try QuantizedModel(config: fixture.config, parameters: fixture.parameters, settings: settings, maxBatch: fixture.batch,
                           calibration: fixture.calibration)
    }

    @Test("the exported tensors rebuild a model with the evaluated quantised loss, bit for bit", arguments: allSettings)
    func exportedModelReproducesTheQuantisedLoss(settings: QuantSettings) throws {
        let evaluated = try fixture.evaluate(settings)
        let tensors = QuantizedTensors.export(try quantized(settings))
        let rebuilt = try QuantizedTensors.model(from: tensors, config: fixture.config, settings: settings, maxBatch: fixture.batch, source: "test")
        let loss = try meanWindowLoss(model: rebuilt.model, windows: fixture.windows, batch: fixture.batch, transform: rebuilt.transform)
        #expect(loss.bitPattern == evaluated.quantLoss.bitPattern, "\(loss) vs \(evaluated.quantLoss)")
        #expect(loss != evaluated.loss, "quantisation changed nothing, so the comparison could not fail")
    }

    @Test("quantised weights are stored as I8 codes within ±q_max with F32 scales; other parameters stay F32", arguments: [
        QuantSettings(.w8a8Naive, 8), QuantSettings(.w8a8Fine, 4), QuantSettings(.w8a8Static, 6),
    ])
    func weightsAreIntegerCodes(settings: QuantSettings) throws {
        let tensors = QuantizedTensors.export(try quantized(settings))
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
        let qMax = symmetricQMax(bits: settings.bits)
        for name in fixture.config.quantizedWeightNames {
            let codes = try #require(byName[name]?.int8s, "\(name) is not I8")
            #expect(codes.allSatisfy { abs(Int($0)) <= qMax } && codes.contains { abs(Int($0)) == qMax }, "\(name) codes exceed or never reach ±\(qMax)")
            let rows = byName[name]!.shape[0]
            #expect(byName[name + ".scale"]?.shape == (settings.scheme == .w8a8Fine ? [rows] : [1]))
        }
        #expect(byName["wte"]?.floats != nil && byName["h0.ln1.g"]?.floats != nil)
        #expect(tensors.contains { $0.name.hasPrefix("act.") } == (settings.scheme == .w8a8Static))
    }

    @Test("a file whose static range was edited is refused with one line naming it")
    func editedRangeIsRefused() throws {
        let settings = QuantSettings(.w8a8Static, 8)
        var tensors = QuantizedTensors.export(try quantized(settings))
        let index = try #require(tensors.firstIndex { $0.name.hasSuffix(".range") })
        tensors[index] = NamedTensor(name: tensors[index].name, shape: [2], floats: tensors[index].floats!.map { $0 * 2 })
        #expect(throws: OutlierLabError.self) {
            try QuantizedTensors.model(from: tensors, config: fixture.config, settings: settings, maxBatch: fixture.batch, source: "edited.safetensors")
        }
    }

    @Test(
        "NumPy dequantises the exported file with codes·scale to exactly the fake-quantised weights",
        // Skipped (and reported as skipped) where `make deps-test` could not make its safetensors + NumPy environment.
        .enabled(if: pythonHasSafetensors, "python3 cannot import safetensors.numpy; install it to check the export in Python"),
        arguments: [QuantSettings(.w8a8Naive, 8), QuantSettings(.w8a8Fine, 8), QuantSettings(.w8a8Static, 4)]
    )
    func numpyDequantisesToTheFakeQuantisedWeights(settings: QuantSettings) throws {
        let model = try quantized(settings)
        let directory = try scratchDirectory("quantized-\(settings.scheme.rawValue)-\(settings.bits)")
        try Safetensors.write(QuantizedTensors.export(model), to: directory + "/q.safetensors")
        // The Quantisation article's dequantisation, in NumPy: float32 codes times float32 scales, per row.
        let script = """
        import sys, numpy as np
        from safetensors.numpy import load_file, save_file
        t = load_file(sys.argv[1])
        w = {n: q.astype(np.float32) * t[n + ".scale"].reshape(-1, 1) for n, q in t.items() if q.dtype == np.int8}
        save_file(w, sys.argv[2])
        """
        let (status, output) = try runPython(script, arguments: [directory + "/q.safetensors", directory + "/w.safetensors"])
        try #require(status == 0, "\(output)")
        let dequantised = try Safetensors.read(directory + "/w.safetensors")
        #expect(Set(dequantised.tensors.map(\.name)) == Set(fixture.config.quantizedWeightNames))
        for tensor in dequantised.tensors {
            expectBitwiseEqual(try #require(tensor.floats), canonicalZeros(Array(model.parameters.view(tensor.name))), tensor.name)
        }
    }
}
