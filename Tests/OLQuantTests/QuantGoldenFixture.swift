import OLCore
import OLData
import OLModel
@testable import OLQuant

/// The quantisation golden case (OLGoldens' GoldenContents article), for the golden system to write and check later: a fixed tiny
/// seeded model and batch, and what every W8A8 scheme makes of them.
public enum QuantGoldenFixture {
    /// preLN, d = 16, L = 2, H = 2, T = 8, ReLU, tied head.
    public static var config: ModelConfig { ModelConfig(width: 16, layers: 2, heads: 2, seq: 8) }

    /// The quantisers' constants, from the code that uses them (the replay keeps none of its own).
    public static var constants: JSONValue {
        .object([
            "min_absmax": .shortest(minimumAbsMax), "calibration_momentum": .double(StaticCalibration.defaultMomentum),
            "clipping_candidates": .int(Int64(clippingSearchCandidates)), "clipping_margin": .double(clippingSearchMargin),
        ])
    }

    /// Model initialisation seed.
    public static let modelSeed: UInt64 = 7
    /// Sequences in the recorded batch.
    public static let batch = 2
    /// The SmoothQuant golden's model (`smoothquant_tiny_op`): the same shape as an OP block, so every
    /// kind of fold appears (block 0's LayerNorm, explicit qkv and fc inputs, value rows, ReLU's fc rows).
    public static var smoothConfig: ModelConfig { ModelConfig(width: 16, layers: 2, heads: 2, seq: 8, block: .op) }
    /// The SmoothQuant golden's setting: `w8a8-smooth` at 8 bits with the default α.
    public static var smoothSettings: [QuantSettings] { [try! QuantSettings(scheme: .w8a8Smooth, bits: 8)] }

    /// Settings recorded: the three W8A8 schemes at 8 bits, and naive at 4 bits.
    public static var settings: [QuantSettings] {
        [try! QuantSettings(scheme: .w8a8Naive, bits: 8), try! QuantSettings(scheme: .w8a8Fine, bits: 8),
         try! QuantSettings(scheme: .w8a8Static, bits: 8), try! QuantSettings(scheme: .w8a8Naive, bits: 4)]
    }

    /// Tensors, in this order:
    /// - `tokens` (B, T) int64 and `targets` (B, T) int64: B evaluation windows spread over the synthetic
    ///   corpus's (seed 0, 4096 bytes) validation split (`EvaluationWindows`: the first at its start, the
    ///   last at its end).
    /// - `input.param.<p>` every float parameter of the model (names and shapes as in checkpoints), and
    ///   `input.calibration.tokens` (batches, batch size, T) int64, the static scheme's calibration crops
    ///   in the order they are observed: so the golden can be replayed without this code's generators.
    /// - per setting, prefix `{scheme}.b{bits}.`:
    ///   `{weight}.weight` (OC, C) the fake-quantised weight and `{weight}.weight_scale` (1 or OC);
    ///   for every site the scheme quantises in the recorded forward (linear inputs; static: every
    ///   calibrated site), `{site}.input` (rows, cols) its float input as this forward computed it and
    ///   `{site}.act` (rows, cols) what it was rewritten to; linear inputs also `{site}.act_scale` (1 or B·T);
    ///   static only: `h<l>.attn.{scores,probs}.act` (B·H·T(T+1)/2) the rewritten causal entries, row
    ///   (b·H + h, query) at offset (b·H + h)·T(T+1)/2 + query(query+1)/2, and with QK-norm
    ///   `h<l>.attn.qk_norm.out.act` (B·T, 2C). A replay checks each site from these recorded inputs and
    ///   substitutes the recorded outputs downstream, so one rounding flip cannot cascade;
    ///   static only: `{site}.range_scale` (1) float32 and `{site}.range_zero_point` (1) int64 for every
    ///   calibrated site, attention scores and probabilities included (3 batches × 2 crops of the train
    ///   split, calibration seed 0); the weights' MSE grid is Bondarenko et al.'s, k·(absmax + 0.5)/100;
    ///   `loss` (1) float64, the mean NLL of the quantised forward;
    ///   `w8a8-smooth` only, per linear input site: `{site}.smooth_max` (C) the calibration's max |x| per
    ///   channel (float model, the same crops as static) and `{site}.smooth_scale` (C) s; the `.weight`s
    ///   are the folded weights quantised, and an explicit site's `.input` is x already divided by s.
    public static func tensors(config: ModelConfig = QuantGoldenFixture.config,
                               settings: [QuantSettings] = QuantGoldenFixture.settings) throws -> [NamedTensor] {
        let T = config.seq
        let corpus = try SyntheticCorpus.corpus(seed: 0, byteCount: 4096, trainFraction: 0.75)
        let windows = try EvaluationWindows(validation: corpus.validation, count: batch, sequenceLength: T)
        var tokens = [Int32](repeating: 0, count: batch * T), targets = tokens
        tokens.withUnsafeMutableBufferPointer { x in
            targets.withUnsafeMutableBufferPointer { y in windows.fill(first: 0, rows: batch, inputs: x, targets: y) }
        }
        let parameters = FloatArena(layout: config.parameterLayout())
        config.initialize(parameters, seed: modelSeed)
        let calibration = StaticCalibration(train: corpus.train, batches: 3, batchSize: 2, seed: 0)

        var out = [
            NamedTensor(name: "tokens", shape: [batch, T], values: .int64(tokens.map(Int64.init))),
            NamedTensor(name: "targets", shape: [batch, T], values: .int64(targets.map(Int64.init))),
        ]
        out += parameters.layout.specs.enumerated().map { index, spec in
            NamedTensor(name: "input.param.\(spec.name)", shape: spec.shape, floats: Array(parameters.view(index)))
        }
        let crops = try calibration.cropStarts(sequenceLength: T).flatMap { $0 }.flatMap { start in
            corpus.train[start ..< start + T].map(Int64.init)
        }
        out.append(NamedTensor(name: "input.calibration.tokens", shape: [calibration.batches, calibration.batchSize, T], values: .int64(crops)))
        for settings in settings {
            let prefix = "\(settings.scheme.rawValue).b\(settings.bits)."
            let quantized = try QuantizedModel(config: config, parameters: parameters, settings: settings, maxBatch: batch,
                                               calibration: calibration)
            for weight in quantized.weights {
                let index = quantized.parameters.layout.index(of: weight.name)!
                out.append(NamedTensor(name: prefix + weight.name + ".weight", shape: quantized.parameters.layout.specs[index].shape,
                                       floats: Array(quantized.parameters.view(index))))
                out.append(NamedTensor(name: prefix + weight.name + ".weight_scale", shape: [weight.scales.count], floats: weight.scales))
            }
            if let plan = quantized.smoothing {
                let maxima = try SmoothQuantPlan.channelMaxima(config: config, parameters: parameters, calibration: calibration)
                for linear in plan.linears {
                    out.append(NamedTensor(name: prefix + linear.site.name + ".smooth_max", shape: [linear.scales.count], floats: maxima[linear.site]!))
                    out.append(NamedTensor(name: prefix + linear.site.name + ".smooth_scale", shape: [linear.scales.count], floats: linear.scales))
                }
            }
            var recorded: [NamedTensor] = []
            quantized.transform?.recordsAttention = true
            quantized.transform?.recorder = { site, input, values, rows, cols, scales in
                recorded.append(NamedTensor(name: prefix + site.name + ".input", shape: [rows, cols], floats: input))
                recorded.append(NamedTensor(name: prefix + site.name + ".act", shape: [rows, cols], floats: Array(values)))
                if site.isLinearInput {
                    recorded.append(NamedTensor(name: prefix + site.name + ".act_scale", shape: [scales.count], floats: scales))
                }
            }
            let loss = tokens.withUnsafeBufferPointer { x in
                targets.withUnsafeBufferPointer { y in
                    quantized.model.forward(tokens: x, targets: y, B: batch, T: T, transform: quantized.transform)!
                }
            }
            quantized.transform?.recorder = nil
            for (layer, internals) in (quantized.transform?.recordedAttention ?? [:]).sorted(by: { $0.key < $1.key }) {
                for (site, values) in [(ActivationSite.attentionScores(layer: layer), internals.scoreValues),
                                       (.attentionProbabilities(layer: layer), internals.probabilityValues)] {
                    recorded.append(NamedTensor(name: prefix + site.name + ".act", shape: [values.count], floats: Array(values)))
                }
                if !internals.queriesAndKeys.isEmpty {
                    let site = ActivationSite.queryKeyNormOutput(layer: layer)
                    recorded.append(NamedTensor(name: prefix + site.name + ".act", shape: [batch * T, 2 * config.width], floats: internals.queriesAndKeys))
                }
            }
            out += recorded
            for range in quantized.ranges {
                out.append(NamedTensor(name: prefix + range.site.name + ".range_scale", shape: [1], floats: [range.quantization.scale]))
                out.append(NamedTensor(name: prefix + range.site.name + ".range_zero_point", shape: [1],
                                       values: .int64([Int64(range.quantization.zeroPoint)])))
            }
            out.append(NamedTensor(name: prefix + "loss", shape: [1], values: .float64([loss])))
        }
        return out
    }
}
