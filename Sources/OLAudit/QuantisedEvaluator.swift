import OLCore
import OLData
import OLModel
import OLQuant
import OLTraining

/// The quantisation step after training: evaluates a run's `model.safetensors` in float and quantised
/// form on the run's fixed validation windows. A protocol so the audit does not depend on which OLQuant
/// entry point computes it.
public protocol QuantisedEvaluator: Sendable {
    /// Schemes this evaluator supports (SPEC §7 names).
    var schemes: Set<String> { get }
    func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity
}

/// W{b}A{b}-naive (SPEC §7) written against OLModel's activation hooks: every linear weight fake-quantised
/// per tensor, every linear input per tensor dynamically over the whole evaluation batch; LM head,
/// embeddings, norms, softmax and residual sums float32. Interim: replace with OLQuant's
/// `quantisedPerplexity` once it lands (one implementation of the scheme, not two).
public struct NaiveQuantisedEvaluator: QuantisedEvaluator {
    public init() {}

    public var schemes: Set<String> { ["w8a8-naive"] }

    public func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity {
        guard schemes.contains(request.scheme) else {
            throw OutlierLabError("quantisation scheme \(request.scheme) is not available to the audit yet (available: \(schemes.sorted().joined(separator: ", ")))")
        }
        let checkpoint = try Checkpoint.read(path)
        let config = checkpoint.config
        let corpus = config.corpus == "synthetic"
            ? try SyntheticCorpus.corpus(seed: 0, byteCount: config.syntheticBytes, trainFraction: config.trainFraction)
            : try ByteCorpus(path: config.corpus, trainFraction: config.trainFraction)
        let windows = try EvaluationWindows(validation: corpus.validation, count: config.evalWindows, sequenceLength: config.model.seq)
        let layout = config.model.parameterLayout()
        let floatParameters = FloatArena(layout: layout)
        checkpoint.loadParameters(into: floatParameters)
        let quantisedParameters = FloatArena(layout: layout)
        checkpoint.loadParameters(into: quantisedParameters)
        for (index, spec) in layout.specs.enumerated() where Self.isLinearWeight(spec.name) {
            let view = quantisedParameters.view(index)
            fakeQuantizeSymmetric(view, rows: spec.shape[0], columns: spec.shape[1], granularity: .perTensor, bits: request.bits)
        }
        let float = try Self.perplexity(config: config.model, parameters: floatParameters, windows: windows, transform: nil)
        let quantised = try Self.perplexity(config: config.model, parameters: quantisedParameters, windows: windows,
                                            transform: LinearInputQuantizer(bits: request.bits))
        return QuantisedPerplexity(floatPPL: float, quantisedPPL: quantised)
    }

    static func isLinearWeight(_ name: String) -> Bool {
        name.hasSuffix(".attn.qkv") || name.hasSuffix(".attn.proj") || name.hasSuffix(".mlp.fc") || name.hasSuffix(".mlp.proj")
    }

    /// exp(mean NLL) over all windows in one batch, so dynamic activation scales span the whole evaluation set.
    static func perplexity(config: ModelConfig, parameters: FloatArena, windows: EvaluationWindows, transform: ActivationTransform?) throws -> Double {
        let model = try GPT(config: config, parameters: parameters, maxBatch: windows.count)
        let T = windows.sequenceLength, rows = windows.count
        var inputs = [Int32](repeating: 0, count: rows * T), targets = inputs
        inputs.withUnsafeMutableBufferPointer { x in targets.withUnsafeMutableBufferPointer { y in windows.fill(first: 0, rows: rows, inputs: x, targets: y) } }
        let loss = inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in model.forward(tokens: x, targets: y, B: rows, T: T, transform: transform)! }
        }
        return exp(loss)
    }
}

/// Per-tensor dynamic fake quantisation of every linear layer's input.
final class LinearInputQuantizer: ActivationTransform {
    let bits: Int
    init(bits: Int) { self.bits = bits }

    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        guard case .linearInput = site else { return }
        fakeQuantizeSymmetric(values, rows: rows, columns: cols, granularity: .perTensor, bits: bits)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
