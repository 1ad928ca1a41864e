import OLCore
import OLModel

/// A planted outlier feature: the audit's positive control (see the AuditV3 article). For every pre-norm (ln1, ln2) of a
/// Pre-LN or Pre-RMS model, the gain (and bias) of one channel is multiplied by `factor` and the matching
/// input column of the linear layer it feeds (attn.qkv, mlp.fc) divided by it. With a power-of-two factor
/// every product W[o,c]·x[c] is bit-identical, so the float function is unchanged while the inputs of
/// qkv and fc (and the norm outputs a static protocol quantises) carry one channel `factor` times larger:
/// an outlier feature of known size, against which a quantisation protocol's resolution is measured.
public enum OutlierPlanting {
    /// Plants the channel in `parameters` in place; a one-line error for a block without pre-norm gains
    /// or a factor that is not a power of two.
    public static func plant(_ parameters: FloatArena, config: ModelConfig, channel: Int = 0, factor: Float) throws {
        guard [.preLN, .preRMS].contains(config.block) else {
            throw OutlierLabError("a planted outlier channel needs a Pre-LN or Pre-RMS block (its pre-norm gains); \(config.block.rawValue) has none")
        }
        guard factor >= 2, factor.isFinite, factor.significand == 1 else {
            throw OutlierLabError("a planted channel's factor must be a power of two (exact in float), got \(factor)")
        }
        guard (0..<config.width).contains(channel) else { throw OutlierLabError("planted channel \(channel) is outside the width \(config.width)") }
        for l in 0..<config.layers {
            for (norm, linear) in [("ln1", "attn.qkv"), ("ln2", "mlp.fc")] {
                parameters.view("h\(l).\(norm).g")[channel] *= factor
                if config.block == .preLN { parameters.view("h\(l).\(norm).b")[channel] *= factor }
                let weight = parameters.view("h\(l).\(linear)")
                let rows = weight.count / config.width
                for row in 0..<rows { weight[row * config.width + channel] /= factor }
            }
        }
    }
}
