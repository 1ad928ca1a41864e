/// Observes or rewrites the intermediate tensors of `attentionForward` in place: what static quantisation
/// of attention scores, probabilities and QK-norm outputs hooks into. Evaluation only (the backward does
/// not see it). Without one, the kernel does one nil check per row and nothing else.
///
/// `scores` and `probabilities` are called concurrently from the workers running different heads, one
/// causal row at a time; an implementation must be safe for concurrent calls with different `head`.
public protocol AttentionTransform: AnyObject, Sendable {
    /// The QK-normalised, scaled q | k, (B·T, 2C) row-major, once per call before any head runs (QK-norm only).
    func normalisedQueriesAndKeys(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int)
    /// Row `query` of head `head` (= b·H + h): the softmax's input over keys 0...query, i.e. the scaled
    /// scores after any soft-cap.
    func scores(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int)
    /// The same row's probabilities after the softmax, before they multiply v (and as `att` keeps them).
    func probabilities(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int)
}
