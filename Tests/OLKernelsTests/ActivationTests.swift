import OLTestSupport
import Testing
@testable import OLKernels

@Suite("ReLU and GELU")
struct ActivationTests {
    struct ActivationCase: Sendable, CustomTestStringConvertible {
        var kind: Activation, N: Int
        var testDescription: String { "\(kind) N=\(N)" }
        static let all = Activation.allCases.flatMap { kind in [1, 7, 33, 100].map { ActivationCase(kind: kind, N: $0) } }
    }

    @Test("activation matches the reference and finite differences", arguments: ActivationCase.all)
    func activationMatchesReference(c: ActivationCase) {
        check(Cases.activation(c.kind, N: c.N, seed: UInt64(c.N)))
    }

    @Test("ReLU's derivative at exactly 0 is 0")
    func reluDerivativeAtZero() {
        var dinp: [Float] = [0, 0]
        activationBackward(.relu, dinp: &dinp, dout: [1, 1], inp: [0, -0.0], N: 2)
        #expect(dinp == [0, 0])
    }

    @Test("accumulate: false writes what clearing and accumulating gives, bit for bit", arguments: Activation.allCases, [1, 17, 100, 40_000])
    func overwriteEqualsClearThenAccumulate(kind: Activation, N: Int) {
        let x = randomFloats(N, seed: 3, std: 2), dout = randomFloats(N, seed: 4, std: 1)
        var accumulated = [Float](repeating: 0, count: N)
        var overwritten = randomFloats(N, seed: 5, std: 1)  // stale values the kernel must ignore
        activationBackward(kind, dinp: &accumulated, dout: dout, inp: x, N: N)
        activationBackward(kind, dinp: &overwritten, dout: dout, inp: x, N: N, accumulate: false)
        // Reports the first differing index and digests, never the whole array.
        expectBitwiseEqual(overwritten, accumulated, "\(kind) N=\(N), overwritten vs accumulated")
    }

    @Test("GELU uses the tanh approximation: known values at 0, ±1 and large |x|")
    func geluKnownValues() {
        var out = [Float](repeating: 0, count: 5)
        activationForward(.gelu, out: &out, inp: [0, 1, -1, 20, -20], N: 5)
        // 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.841192 (the erf form would give 0.841345: far outside 1e-6).
        expectClose(out, [0, 0.8411919906082768, -0.15880800939172324, 20, 0], Tolerance(rtol: 1e-6, atol: 1e-7), "gelu")
    }
}
