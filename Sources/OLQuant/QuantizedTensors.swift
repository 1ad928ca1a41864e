import OLCore
import OLModel

/// A quantised model as named tensors (what `olab quantize` writes), and the model rebuilt from them:
/// - each weight the scheme quantises: `<name>` I8 codes (OC, C) and `<name>.scale` F32, shape [1] per
///   tensor or [OC] per output channel; codes·scale (per row) is the fake-quantised float32 weight, bit for
///   bit. 6- and 4-bit codes (|q| ≤ 31, ≤ 7) are stored as I8 too;
/// - every other parameter (embeddings, norms, β, QK-norm scales): `<name>` F32, as in the checkpoint;
/// - `w8a8-static`: per activation site `act.<site>.range` F32 [2] (the calibrated min and max), and for
///   convenience `act.<site>.scale` and `act.<site>.zero_point` F32 [1] (x̂ = (q − z)·s, q ∈ 0…2^bits − 1).
/// - `w8a8-smooth`: the folded weights and norm parameters stand in the tensors above; per linear input
///   with no preceding norm or linear to fold into, `act.<site>.smooth_scale` F32 [C]: the input is
///   divided by it (x[:, j] / s_j) before its dynamic quantisation.
/// Dynamic activation scales are computed from each evaluation batch at run time, so none are stored.
public enum QuantizedTensors {
    public static let activationPrefix = "act."

    /// The tensors of `model`, in arena order, then the static ranges in forward order.
    public static func export(_ model: QuantizedModel) -> [NamedTensor] {
        let weights = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0) })
        var tensors: [NamedTensor] = []
        for (index, spec) in model.parameters.layout.specs.enumerated() {
            let values = Array(model.parameters.view(index))
            guard let weight = weights[spec.name] else {
                tensors.append(NamedTensor(name: spec.name, shape: spec.shape, floats: values))
                continue
            }
            tensors.append(NamedTensor(name: spec.name, shape: spec.shape, values: .int8(codes(values, columns: spec.shape[1], scales: weight.scales))))
            tensors.append(NamedTensor(name: spec.name + ".scale", shape: [weight.scales.count], floats: weight.scales))
        }
        for smoothing in model.smoothing?.linears ?? [] where smoothing.fold == .explicit {
            tensors.append(NamedTensor(name: activationPrefix + smoothing.site.name + ".smooth_scale", shape: [smoothing.scales.count], floats: smoothing.scales))
        }
        for range in model.ranges {
            let name = activationPrefix + range.site.name
            tensors.append(NamedTensor(name: name + ".range", shape: [2], floats: [Float(range.observer.minimum!), Float(range.observer.maximum!)]))
            tensors.append(NamedTensor(name: name + ".scale", shape: [1], floats: [range.quantization.scale]))
            tensors.append(NamedTensor(name: name + ".zero_point", shape: [1], floats: [Float(range.quantization.zeroPoint)]))
        }
        return tensors
    }

    /// The integer codes of fake-quantised values: value/scale rounds back to the code it came from,
    /// since value = code·scale with a relative error far below 1/(2·127). Code·scale equals the value bit
    /// for bit, except that a −0 (a small negative weight rounded to zero) comes back as +0.
    static func codes(_ values: [Float], columns: Int, scales: [Float]) -> [Int8] {
        values.indices.map { i in
            let scale = scales.count == 1 ? scales[0] : scales[i / columns]
            let code = Int8((values[i] / scale).rounded(.toNearestOrEven))
            precondition(Float(code) * scale == values[i], "value \(values[i]) is not a code times its scale \(scale)")
            return code
        }
    }

    /// The model `export` wrote: parameters with the weights dequantised (codes·scale in float32, exactly the
    /// fake-quantised weights), a `GPT` over them and the scheme's activation transform. Every tensor is
    /// checked against the config; a problem is one line naming `source`.
    public static func model(from tensors: [NamedTensor], config: ModelConfig, settings: QuantSettings, maxBatch: Int,
                             source: String) throws -> (parameters: FloatArena, model: GPT, transform: QuantizingTransform?) {
        var byName: [String: NamedTensor] = [:]
        for tensor in tensors { byName[tensor.name] = tensor }
        let parameters = FloatArena(layout: config.parameterLayout())
        let quantized = Set(settings.scheme.weights == nil ? [] : config.quantizedWeightNames)
        var used = Set<String>()
        for (index, spec) in parameters.layout.specs.enumerated() {
            let values = try quantized.contains(spec.name)
                ? dequantized(spec, byName, source: source)
                : float(spec.name, shape: spec.shape, byName, source: source)
            _ = parameters.view(index).update(fromContentsOf: values)
            used.formUnion(quantized.contains(spec.name) ? [spec.name, spec.name + ".scale"] : [spec.name])
        }
        let model = try GPT(config: config, parameters: parameters, maxBatch: maxBatch)
        let transform = try activationTransform(settings: settings, model: model, byName, used: &used, source: source)
        if let stranger = tensors.first(where: { !used.contains($0.name) }) {
            throw OutlierLabError("\(source): tensor \(stranger.name) is not part of a \(settings.scheme.rawValue) model of this config")
        }
        return (parameters, model, transform)
    }

    private static func float(_ name: String, shape: [Int], _ byName: [String: NamedTensor], source: String) throws -> [Float] {
        guard let tensor = byName[name] else { throw OutlierLabError("\(source): tensor \(name) is missing") }
        guard tensor.shape == shape, let values = tensor.floats, values.allSatisfy(\.isFinite) else {
            throw OutlierLabError("\(source): tensor \(name) must be finite F32 of shape \(shape), got \(tensor.values.dtype) \(tensor.shape)")
        }
        return values
    }

    private static func dequantized(_ spec: TensorSpec, _ byName: [String: NamedTensor], source: String) throws -> [Float] {
        guard let tensor = byName[spec.name], tensor.shape == spec.shape, let codes = tensor.int8s else {
            throw OutlierLabError("\(source): quantised weight \(spec.name) must be I8 of shape \(spec.shape)")
        }
        let rows = spec.shape[0], columns = spec.shape[1]
        guard let scaleTensor = byName[spec.name + ".scale"], let scales = scaleTensor.floats, [1, rows].contains(scales.count),
              scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw OutlierLabError("\(source): \(spec.name).scale must be 1 or \(rows) positive finite F32 values")
        }
        return codes.indices.map { Float(codes[$0]) * (scales.count == 1 ? scales[0] : scales[$0 / columns]) }
    }

    private static func activationTransform(settings: QuantSettings, model: GPT, _ byName: [String: NamedTensor],
                                            used: inout Set<String>, source: String) throws -> QuantizingTransform? {
        switch settings.scheme.activations {
        case nil: return nil
        case .staticAsymmetric:
            var ranges: [ActivationSite: AffineQuantization] = [:]
            for site in try sites(of: model) {
                let name = activationPrefix + site.name
                let range = try float(name + ".range", shape: [2], byName, source: source)
                guard range[0] <= range[1] else { throw OutlierLabError("\(source): \(name).range has minimum \(range[0]) above maximum \(range[1])") }
                let quantization = AffineQuantization(minimum: range[0], maximum: range[1], bits: settings.bits)
                let stored = try float(name + ".scale", shape: [1], byName, source: source) + float(name + ".zero_point", shape: [1], byName, source: source)
                guard stored == [quantization.scale, Float(quantization.zeroPoint)] else {
                    throw OutlierLabError("\(source): \(name).scale and .zero_point do not match its range (the file was edited)")
                }
                ranges[site] = quantization
                used.formUnion([name + ".range", name + ".scale", name + ".zero_point"])
            }
            return QuantizingTransform(granularity: .staticAsymmetric, bits: settings.bits, ranges: ranges)
        case let granularity?:
            var smoothing: [ActivationSite: [Float]] = [:]
            if settings.scheme == .w8a8Smooth {
                let config = model.config
                for l in 0..<config.layers {
                    for linear in LinearLayer.allCases where SmoothQuantPlan.fold(linear, layer: l, config: config) == .explicit {
                        let site = ActivationSite.linearInput(layer: l, linear: linear)
                        let name = activationPrefix + site.name + ".smooth_scale"
                        let scales = try float(name, shape: [linear == .mlpProj ? 4 * config.width : config.width], byName, source: source)
                        guard scales.allSatisfy({ $0 > 0 }) else { throw OutlierLabError("\(source): \(name) must be positive") }
                        smoothing[site] = scales
                        used.insert(name)
                    }
                }
            }
            return QuantizingTransform(granularity: granularity, bits: settings.bits, smoothing: smoothing)
        }
    }

    /// Every site a forward pass of `model` visits (what calibration observes), found by one forward call
    /// on a single window of zeros.
    private static func sites(of model: GPT) throws -> [ActivationSite] {
        let observer = ObservingTransform(momentum: StaticCalibration.defaultMomentum, percentile: nil, qkNorm: model.config.qkNorm)
        let tokens = [Int32](repeating: 0, count: model.config.seq)
        _ = tokens.withUnsafeBufferPointer { model.forward(tokens: $0, targets: nil, B: 1, T: model.config.seq, transform: observer) }
        observer.finishForward()
        if let failure = observer.failure { throw failure }
        return observer.order
    }
}
