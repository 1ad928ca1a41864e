import Foundation
import Testing
@testable import OLKernels

@Suite("Softmax cross-entropy")
struct CrossEntropyTests {
    @Test("per-token losses match the reference and dlogits match finite differences",
          arguments: [(1, 1), (3, 5), (9, 7), (6, 13), (4, 33), (2, 256)].map { RowShape(N: $0.0, C: $0.1) })
    func crossEntropyMatchesReference(shape: RowShape) {
        check(Cases.crossEntropy(N: shape.N, V: shape.C, seed: UInt64(shape.N * 7 + shape.C)))
    }

    @Test("probabilities match the reference softmax and each row sums to 1")
    func probabilitiesMatchReference() {
        let (N, V) = (5, 256)
        let logits = randomFloats(N * V, seed: 3, std: 3), targets = randomTokens(N, V: V, seed: 4)
        var losses = [Float](repeating: 0, count: N), probs = [Float](repeating: 0, count: N * V)
        crossEntropyForward(losses: &losses, probs: &probs, logits: logits, targets: targets, N: N, V: V)
        let expected = Reference.crossEntropy(logits: logits.map(Double.init), targets: targets, N: N, V: V)
        expectClose(probs, expected.probs, .forward, "probs")
        let sums = (0..<N).map { n in probs[n * V ..< (n + 1) * V].reduce(0.0) { $0 + Double($1) } }
        // 256 float32 probabilities, each within a few ulps: the row sum is 1 within 256·6e-8.
        expectClose(sums, [Double](repeating: 1, count: N), Tolerance(rtol: 0, atol: 2e-5), "row sums")
    }

    @Test("huge logits give finite losses (max-subtraction), uniform logits give log V")
    func lossIsStable() {
        let V = 256
        var logits = [Float](repeating: 0, count: 2 * V)
        logits[3] = 1000
        var losses: [Float] = [0, 0], probs = [Float](repeating: 0, count: 2 * V)
        crossEntropyForward(losses: &losses, probs: &probs, logits: logits, targets: [4, 9], N: 2, V: V)
        // Row 0: loss = 1000 + log(1 + 255·e^-1000) − 0 = 1000; row 1: log 256. Float32 log: a few ulps.
        expectClose(losses, [1000, log(256.0)], Tolerance(rtol: 1e-6, atol: 0), "losses")
    }

    @Test("the mean loss is summed in Double in index order")
    func meanLossSumsInDouble() {
        let losses: [Float] = [16_777_216, 1, 1, 1]
        #expect(meanLoss(losses, count: 4) == (16_777_216.0 + 3) / 4)
    }
}
