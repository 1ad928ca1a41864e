/// Places in the forward pass where activations can be observed or transformed: what the quantisation
/// schemes (SPEC §7) and calibration observers hook into. With no transform installed, the forward pass
/// does no extra work.
public enum LinearLayer: String, Sendable, CaseIterable {
    case qkv, attnProj = "attn_proj", fc, mlpProj = "mlp_proj"
}

public enum ActivationSite: Hashable, Sendable {
    /// The input of a linear layer (a copy: transforming it never touches the residual stream).
    case linearInput(layer: Int, linear: LinearLayer)
    /// The output of a linear layer.
    case linearOutput(layer: Int, linear: LinearLayer)
    /// The output of a norm (index 0: before attention, 1: before the MLP).
    case normOutput(layer: Int, index: Int)
    /// The residual stream after a sub-block (index 0: after attention, 1: after the MLP).
    case residual(layer: Int, index: Int)
}

/// Observes or rewrites activations in place during an evaluation forward pass. Never installed while
/// training: a transformed forward pass has no matching backward.
public protocol ActivationTransform: AnyObject {
    /// `values` is (rows, cols) row-major; the transform may read it and write it in place.
    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int)
}
