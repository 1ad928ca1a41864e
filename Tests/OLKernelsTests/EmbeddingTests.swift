import Testing
@testable import OLKernels

@Suite("Embedding")
struct EmbeddingTests {
    @Test("token plus position embedding matches the reference; the scatter gradient matches finite differences",
          arguments: SequenceShape.embedding)
    func embeddingMatchesReference(shape: SequenceShape) {
        check(Cases.embedding(B: shape.B, T: shape.T, C: shape.C, V: shape.V, seed: UInt64(shape.T * 10 + shape.C)))
    }

    @Test("a token repeated in the batch accumulates every occurrence into its embedding row")
    func repeatedTokensAccumulate() {
        let (B, T, C, V) = (1, 3, 2, 4)
        let tokens: [Int32] = [2, 2, 2]
        var dwte = [Float](repeating: 0, count: V * C), dwpe = [Float](repeating: 0, count: T * C)
        let dout: [Float] = [1, 2, 3, 4, 5, 6]
        embeddingBackward(dwte: &dwte, dwpe: &dwpe, dout: dout, tokens: tokens, B: B, T: T, C: C, V: V)
        // Small integers: float sums are exact, so exact equality is the right check.
        #expect(dwte == [0, 0, 0, 0, 9, 12, 0, 0])
        #expect(dwpe == dout)
    }
}
