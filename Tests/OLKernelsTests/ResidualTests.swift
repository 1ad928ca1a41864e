import Testing
@testable import OLKernels

@Suite("Residual add with a branch weight")
struct ResidualTests {
    @Test("x + β·branch matches the reference; dx, dbranch and dβ match finite differences", arguments: [1, 7, 33, 100])
    func residualMatchesReference(N: Int) {
        check(Cases.residual(N: N, seed: UInt64(N)))
    }

    @Test("dβ is summed in Double: float32 would lose the small terms after a large one")
    func betaGradientSumsInDouble() {
        // 2^24 + 1 + 1 + … in float32 stays 2^24; in Double it is exact.
        let dout: [Float] = [16_777_216, 1, 1, 1, 1], branch: [Float] = [1, 1, 1, 1, 1]
        var dx = [Float](repeating: 0, count: 5), dbranch = dx, dbeta: [Float] = [0]
        residualBackward(dx: &dx, dbranch: &dbranch, dbeta: &dbeta, dout: dout, branch: branch, beta: 0.5, N: 5)
        #expect(dbeta == [16_777_220])
    }
}
