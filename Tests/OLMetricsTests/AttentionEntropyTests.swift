import OLCore
import Testing
import OLMetrics

@Suite("Attention entropy")
struct AttentionEntropyTests {
    /// (B, H, T, T) probabilities with row t filled by `row(t)` over keys 0...t and zeros above the diagonal.
    func causal(batch: Int, heads: Int, length: Int, row: (Int) -> [Float]) -> [Float] {
        var p = [Float](repeating: 0, count: batch * heads * length * length)
        for block in 0..<(batch * heads) {
            for t in 0..<length {
                for (k, value) in row(t).enumerated() { p[(block * length + t) * length + k] = value }
            }
        }
        return p
    }

    @Test("uniform causal attention has entropy mean_t log(t + 1)", arguments: [1, 2, 7, 64])
    func uniformAttention(length: Int) {
        let p = causal(batch: 2, heads: 3, length: length) { t in [Float](repeating: 1 / Float(t + 1), count: t + 1) }
        let expected = (1...length).map { log(Double($0)) }.reduce(0, +) / Double(length)
        // 1/(t+1) is rounded to Float (relative 6e-8); the entropy moves by about that much times log(T).
        #expect(abs(attentionEntropy(p, batch: 2, heads: 3, length: length) - expected) < 1e-6)
    }

    @Test("one-hot (collapsed) attention has entropy 0, using 0·log 0 = 0")
    func collapsedAttention() {
        let p = causal(batch: 1, heads: 2, length: 9) { t in (0...t).map { $0 == t / 2 ? 1 : 0 } }
        #expect(attentionEntropy(p, batch: 1, heads: 2, length: 9) == 0)
    }

    @Test("entries above the causal diagonal are ignored")
    func ignoresFutureKeys() {
        let length = 5
        let clean = causal(batch: 1, heads: 1, length: length) { t in [Float](repeating: 1 / Float(t + 1), count: t + 1) }
        var dirty = clean
        for t in 0..<length { for k in (t + 1)..<max(t + 1, length) { dirty[t * length + k] = 0.5 } }
        #expect(attentionEntropy(dirty, batch: 1, heads: 1, length: length) == attentionEntropy(clean, batch: 1, heads: 1, length: length))
    }

    @Test("averages over heads: one uniform and one collapsed head give half the uniform entropy")
    func averagesOverHeads() {
        let length = 6
        var p = causal(batch: 1, heads: 2, length: length) { t in [Float](repeating: 1 / Float(t + 1), count: t + 1) }
        for t in 0..<length { for k in 0...t { p[(length + t) * length + k] = k == 0 ? 1 : 0 } }
        let uniform = (1...length).map { log(Double($0)) }.reduce(0, +) / Double(length)
        #expect(abs(attentionEntropy(p, batch: 1, heads: 2, length: length) - uniform / 2) < 1e-6)
    }
}
