import Testing
import OLCore
import OLQuant

@Suite("Quantisation schemes")
struct QuantSchemeTests {
    @Test("every scheme name parses back to its scheme", arguments: QuantScheme.allCases)
    func namesRoundTrip(scheme: QuantScheme) throws {
        #expect(try QuantScheme.parse(scheme.rawValue) == scheme)
        #expect(try QuantSettings(parsing: scheme.rawValue).bits == 8)
    }

    @Test("the six documented names are exactly the schemes")
    func documentedNames() {
        #expect(QuantScheme.allCases.map(\.rawValue) == ["w8a8-naive", "w8a8-fine", "w8a8-static", "w8-only", "a8-only", "w8a8-smooth"])
    }

    @Test("an unknown name gets one line naming it and listing the valid names")
    func unknownName() {
        #expect(throws: OutlierLabError("unknown quantisation scheme 'w8a8'; expected one of: w8a8-naive, w8a8-fine, w8a8-static, w8-only, a8-only, w8a8-smooth")) {
            try QuantScheme.parse("w8a8")
        }
    }

    @Test("bit widths 8, 6 and 4 are accepted and others rejected with one line", arguments: [8, 6, 4, 5, 16, 0])
    func bitWidths(bits: Int) {
        if [8, 6, 4].contains(bits) {
            #expect((try? QuantSettings(scheme: .w8a8Fine, bits: bits))?.bits == bits)
        } else {
            #expect(throws: OutlierLabError("unsupported quantisation bit width \(bits); expected one of: 8, 6, 4")) {
                try QuantSettings(scheme: .w8a8Fine, bits: bits)
            }
        }
    }

    @Test("W-only and A-only leave the other side in float32; static uses MSE weights and static activations")
    func granularities() {
        #expect(QuantScheme.w8Only.activations == nil && QuantScheme.w8Only.weights == .perTensor)
        #expect(QuantScheme.a8Only.weights == nil && QuantScheme.a8Only.activations == .perTensorDynamic)
        #expect(QuantScheme.w8a8Fine.weights == .perOutputChannel && QuantScheme.w8a8Fine.activations == .perTokenDynamic)
        #expect(QuantScheme.w8a8Static.weights == .perTensorMSEClipped && QuantScheme.w8a8Static.activations == .staticAsymmetric)
    }
}
