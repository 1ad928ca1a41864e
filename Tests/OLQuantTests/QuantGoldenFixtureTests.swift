import Testing
import OLCore
import OLQuant
import OLTestSupport

@Suite("Quantisation golden fixture")
struct QuantGoldenFixtureTests {
    @Test("the golden tensors are the same on every call")
    func deterministic() throws {
        let first = try QuantGoldenFixture.tensors(), second = try QuantGoldenFixture.tensors()
        expectBitwiseEqual(first, second, "golden tensors of two calls")
    }

    @Test("names are unique and every setting records weights, activations, scales and a loss")
    func contents() throws {
        let tensors = try QuantGoldenFixture.tensors()
        let names = tensors.map(\.name)
        #expect(Set(names).count == names.count)
        // 2 token tensors, every float parameter, the calibration crops; per setting 8 weights + 8 weight
        // scales + loss, and per quantised site its .input and .act (linear inputs also .act_scale). The
        // dynamic schemes (three settings) quantise the 8 linear inputs: 17 + 3·8 = 41 each. Static
        // quantises its 30 calibrated sites — the embedding sum, per block 12 around the linear layers,
        // norms and residuals plus the attention scores and probabilities, and the final norm output — and
        // records a range scale and zero point for each (60); the 26 reported in place get .input and
        // .act (52), the 8 linear inputs .act_scale, the 4 attention internals .act only: 17 + 60 + 52 + 8 + 4.
        #expect(tensors.count == 2 + QuantGoldenFixture.config.parameterLayout().specs.count + 1 + 3 * 41 + (17 + 60 + 52 + 8 + 4))
        #expect(names.contains("w8a8-static.b8.h1.residual.mlp.range_zero_point"))
        #expect(names.contains("w8a8-static.b8.h1.attn.probs.range_scale") && names.contains("w8a8-static.b8.lnf.out.range_scale"))
        #expect(names.contains("w8a8-fine.b8.h0.mlp_proj.in.act"))
        let fineScale = try #require(tensors.first { $0.name == "w8a8-fine.b8.h0.attn.qkv.weight_scale" })
        #expect(fineScale.shape == [48])
        let act = try #require(tensors.first { $0.name == "w8a8-naive.b4.h0.fc.in.act" })
        let scale = try #require(tensors.first { $0.name == "w8a8-naive.b4.h0.fc.in.act_scale" }?.floats?.first)
        // 4-bit per-tensor: every activation is k·s with |k| ≤ 7.
        #expect(act.shape == [16, 16] && act.floats!.allSatisfy { abs($0 / scale - ($0 / scale).rounded()) < 1e-3 && abs($0 / scale) <= 7.001 })
        for settings in QuantGoldenFixture.settings {
            let loss = tensors.first { $0.name == "\(settings.scheme.rawValue).b\(settings.bits).loss" }?.doubles?.first
            #expect(loss.map { $0.isFinite && $0 > 5 && $0 < 6 } == true, "an untrained byte model's loss is near log 256 ≈ 5.55: \(String(describing: loss))")
        }
    }
}
