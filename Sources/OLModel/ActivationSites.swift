import OLKernels

/// Places in the forward pass where activations can be observed or transformed: what the quantisation
/// schemes (OLQuant's Quantisation article) and calibration observers hook into. With no transform installed, the forward pass
/// does no extra work.
public enum LinearLayer: String, Sendable, CaseIterable {
    case qkv, attnProj = "attn_proj", fc, mlpProj = "mlp_proj"
}

public enum ActivationSite: Hashable, Sendable {
    /// The sum of token and position embeddings (the start of the residual stream).
    case embeddingSum
    /// The input of a linear layer (a copy: transforming it never touches the residual stream).
    case linearInput(layer: Int, linear: LinearLayer)
    /// The output of a linear layer; for `fc`, after the MLP activation (the activation belongs to the
    /// layer, as Bondarenko et al. quantise it), so the pre-activation is never a site.
    case linearOutput(layer: Int, linear: LinearLayer)
    /// The output of a norm (index 0: before attention, 1: before the MLP).
    case normOutput(layer: Int, index: Int)
    /// The QK-normalised queries and keys, (B·T, 2C) (QK-norm blocks only; through `AttentionTransform`).
    case queryKeyNormOutput(layer: Int)
    /// The softmax's input: scaled scores after any soft-cap, causal entries only (through `AttentionTransform`).
    case attentionScores(layer: Int)
    /// The softmax's output before it multiplies v, causal entries only (through `AttentionTransform`).
    case attentionProbabilities(layer: Int)
    /// The residual stream after a sub-block (index 0: after attention, 1: after the MLP).
    case residual(layer: Int, index: Int)
    /// The final norm's output, the LM head's input (blocks with a final norm).
    case finalNormOutput
}

/// Observes or rewrites activations in place during an evaluation forward pass. Never installed while
/// training: a transformed forward pass has no matching backward.
public protocol ActivationTransform: AnyObject {
    /// `values` is (rows, cols) row-major; the transform may read it and write it in place.
    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int)
    /// The transform for the fused attention of block `layer` in this forward pass (B sequences of length
    /// T, H heads), or nil to leave its scores, probabilities and QK-norm outputs alone (the default).
    func attentionTransform(layer: Int, batch: Int, heads: Int, length: Int) -> AttentionTransform?
}

extension ActivationTransform {
    public func attentionTransform(layer: Int, batch: Int, heads: Int, length: Int) -> AttentionTransform? { nil }
}
