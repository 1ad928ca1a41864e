/// out[b, t] = wte[token[b, t]] + wpe[t]: token embedding plus learned position embedding.
/// Tokens are Int32 (bytes for OutlierLab, V = 256) and must lie in 0..<V.
public func embeddingForward(
    out: UnsafeMutablePointer<Float>,   // (B, T, C)
    tokens: UnsafePointer<Int32>,       // (B, T)
    wte: UnsafePointer<Float>,          // (V, C)
    wpe: UnsafePointer<Float>,          // (T, C) (at least T rows)
    B: Int, T: Int, C: Int, V: Int
) {
    for bt in 0..<(B * T) {
        let token = Int(tokens[bt])
        precondition(token >= 0 && token < V, "token \(token) outside the vocabulary 0..<\(V)")
        let o = out + bt * C, e = wte + token * C, p = wpe + (bt % T) * C
        for i in 0..<C { o[i] = e[i] + p[i] }
    }
}

/// dwte[token] += dout and dwpe[t] += dout. A scatter: rows are visited in (b, t) order on one thread,
/// so a token repeated in the batch always sums its contributions in the same order.
public func embeddingBackward(
    dwte: UnsafeMutablePointer<Float>,  // (V, C)
    dwpe: UnsafeMutablePointer<Float>,  // (T, C)
    dout: UnsafePointer<Float>,         // (B, T, C)
    tokens: UnsafePointer<Int32>,       // (B, T)
    B: Int, T: Int, C: Int, V: Int
) {
    for bt in 0..<(B * T) {
        let token = Int(tokens[bt])
        precondition(token >= 0 && token < V, "token \(token) outside the vocabulary 0..<\(V)")
        let d = dout + bt * C, e = dwte + token * C, p = dwpe + (bt % T) * C
        for i in 0..<C {
            e[i] += d[i]
            p[i] += d[i]
        }
    }
}
