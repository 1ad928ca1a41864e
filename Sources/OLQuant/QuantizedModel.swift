import OLCore
import OLData
import OLKernels
import OLModel

// Whole-model fake quantisation (<doc:Quantisation>): a quantised clone of the parameters plus an
// `ActivationTransform` that rewrites activations at the `ActivationSite`s of `GPT.forward`.
//
// What is quantised where:
// - Weights: the four linear layers of every block (`h{l}.attn.qkv`, `h{l}.attn.proj`, `h{l}.mlp.fc`,
//   `h{l}.mlp.proj`), in a clone of the arena. Embeddings, the LM head (tied or not), norm gains/biases,
//   QK-norm scales and branch weights β stay float32.
// - Dynamic activations (`w8a8-naive`, `w8a8-fine`, `a8-only`): the input of every linear layer. "Dynamic
//   over the whole evaluation batch" means one scale per linear input per `GPT.forward` call, computed
//   over all B·T rows of that call, i.e. over the `batch` validation windows evaluated together (the last
//   call holds the remaining windows, possibly fewer). Per-tensor results therefore depend on `batch`,
//   which is recorded with every result.
// - Static activations (`w8a8-static`), as Bondarenko et al.'s quantised OPT places its quantisers:
//   asymmetric unsigned, one calibrated range per site, at the embedding sum, every linear input and
//   output (fc's after its activation, never before it), the QK-norm outputs, the attention scores (the
//   softmax's input) and probabilities (inside the fused attention kernel, through `AttentionTransform`),
//   every norm output including the final norm's, and every residual sum. Only the LM head, the
//   embedding tables, norm parameters, β and the softmax's own arithmetic stay float32. Where two sites
//   are one tensor (a norm output that is the next linear input), both calibrate the same range, so the
//   second quantisation is the identity.

extension ActivationSite {
    /// A stable name: `embedding.sum`, `h{l}.{qkv,attn_proj,fc,mlp_proj}.{in,out}` (`fc.out` after the MLP
    /// activation), `h{l}.ln{1,2}.out`, `h{l}.attn.{qk_norm.out,scores,probs}`, `h{l}.residual.{attn,mlp}`,
    /// `lnf.out`. Used in result JSON and golden tensor names.
    public var name: String {
        switch self {
        case .embeddingSum: "embedding.sum"
        case .linearInput(let l, let linear): "h\(l).\(linear.rawValue).in"
        case .linearOutput(let l, let linear): "h\(l).\(linear.rawValue).out"
        case .normOutput(let l, let index): "h\(l).ln\(index + 1).out"
        case .queryKeyNormOutput(let l): "h\(l).attn.qk_norm.out"
        case .attentionScores(let l): "h\(l).attn.scores"
        case .attentionProbabilities(let l): "h\(l).attn.probs"
        case .residual(let l, let index): "h\(l).residual.\(index == 0 ? "attn" : "mlp")"
        case .finalNormOutput: "lnf.out"
        }
    }

    /// Whether dynamic schemes quantise this site (linear inputs only).
    var isLinearInput: Bool { if case .linearInput = self { true } else { false } }
}

extension ModelConfig {
    /// Names of the linear-layer weights quantised by every weight scheme, in arena order (the attention
    /// gate's weight, where the model has one, like any linear's).
    public var quantizedWeightNames: [String] {
        (0..<layers).flatMap { l in
            ["h\(l).attn.qkv", "h\(l).attn.proj"] + (gatedAttention ? ["h\(l).attn.gate"] : []) + ["h\(l).mlp.fc", "h\(l).mlp.proj"]
        }
    }
}

extension WeightQuantization {
    /// The spelling in result JSON.
    public var name: String {
        switch self {
        case .perTensor: "per-tensor"
        case .perOutputChannel: "per-output-channel"
        case .perTensorMSEClipped: "per-tensor-mse-clipped"
        }
    }
}

extension ActivationQuantization {
    /// The spelling in result JSON.
    public var name: String {
        switch self {
        case .perTensorDynamic: "per-tensor-dynamic"
        case .perTokenDynamic: "per-token-dynamic"
        case .staticAsymmetric: "static-asymmetric-uint"
        }
    }
}

/// How one weight tensor was quantised.
public struct QuantizedWeight: Sendable, Equatable {
    public let name: String
    /// One scale (per tensor) or one per output channel (row).
    public let scales: [Float]
    /// The MSE-chosen clipping threshold (`per-tensor-mse-clipped` only).
    public let clipping: ClippingSearchResult?
}

/// Fake-quantises the linear weights of `arena` in place (pass a clone) and returns what was done, in
/// arena order. Symmetric with q_max = 2^(bits−1) − 1 and round half to even.
public func quantizeLinearWeights(_ arena: FloatArena, config: ModelConfig, granularity: WeightQuantization,
                                  bits: Int) -> [QuantizedWeight] {
    config.quantizedWeightNames.map { name in
        let index = arena.layout.index(of: name)!
        let shape = arena.layout.specs[index].shape
        let view = arena.view(index)
        switch granularity {
        case .perTensor, .perOutputChannel:
            let scales = fakeQuantizeSymmetric(view, rows: shape[0], columns: shape[1],
                                               granularity: granularity == .perTensor ? .perTensor : .perOutputChannel, bits: bits)
            return QuantizedWeight(name: name, scales: scales, clipping: nil)
        case .perTensorMSEClipped:
            let search = mseClippingSearch(UnsafeBufferPointer(view), bits: bits)
            fakeQuantizeSymmetric(view, scale: search.scale, bits: bits)
            return QuantizedWeight(name: name, scales: [search.scale], clipping: search)
        }
    }
}

/// Options of the static calibration of `w8a8-static`: `batches` batches of `batchSize` random crops of
/// the TRAIN split (never the validation windows), crop starts drawn with `nextInt(below:)` from
/// `RandomStream(seed:purpose: "calibration")` (independent of the training data order), each batch run
/// through the float model while a `RangeObserver` per site folds in its range.
public struct StaticCalibration: Sendable, Equatable {
    /// The train split the crops come from.
    public var train: [UInt8]
    public var batches: Int
    public var batchSize: Int
    public var seed: UInt64
    public var momentum: Double
    /// nil: running min/max; e.g. 99.999: the (100 − p)th/pth percentiles of each batch.
    public var percentile: Double?
    /// Crops carry the BOS token at position 0 (`TokenLayout`), as the model's training crops did.
    public var bos: Bool

    /// The running range's momentum r ← m·r + (1 − m)·r_batch (after the first batch); recorded in goldens.
    public static let defaultMomentum = 0.9

    public init(train: [UInt8], batches: Int = 8, batchSize: Int = 8, seed: UInt64 = 0, momentum: Double = defaultMomentum,
                percentile: Double? = nil, bos: Bool = false) {
        self.train = train
        self.bos = bos
        self.batches = batches
        self.batchSize = batchSize
        self.seed = seed
        self.momentum = momentum
        self.percentile = percentile
    }

    /// The crop starts of every calibration batch, batch-major.
    public func cropStarts(sequenceLength: Int) throws -> [[Int]] {
        guard batches > 0, batchSize > 0 else {
            throw OutlierLabError("calibration needs at least one batch of at least one sequence, got \(batches)×\(batchSize)")
        }
        guard (0...1).contains(momentum) else { throw OutlierLabError("calibration momentum must be in [0, 1], got \(momentum)") }
        if let p = percentile, !(50...100).contains(p) {
            throw OutlierLabError("calibration percentile must be in [50, 100], got \(p)")
        }
        guard train.count > sequenceLength else {
            throw OutlierLabError("train split has \(train.count) bytes; calibration crops of \(sequenceLength) tokens need at least \(sequenceLength + 1)")
        }
        var random = RandomStream(seed: seed, purpose: "calibration")
        return (0..<batches).map { _ in (0..<batchSize).map { _ in random.nextInt(below: train.count - sequenceLength) } }
    }

    /// Options as recorded in result JSON (the bytes themselves are summarised by their count); `bos`
    /// only when on, so results without it keep their bytes.
    public var json: JSONValue {
        let members: JSONValue = .object([
            "split": "train",
            "train_bytes": .int(Int64(train.count)),
            "batches": .int(Int64(batches)),
            "batch_size": .int(Int64(batchSize)),
            "seed": .int(Int64(bitPattern: seed)),
            "momentum": .double(momentum),
            "percentile": percentile.map(JSONValue.double) ?? .null,
        ])
        guard bos, case .object(let list) = members else { return members }
        return .object(list + [JSONMember("bos", .bool(true))])
    }
}

/// The calibrated range of one site.
public struct CalibratedRange: Sendable, Equatable {
    public let site: ActivationSite
    public let observer: RangeObserver
    public let quantization: AffineQuantization
}

/// The activation side of a scheme: rewrites activations in place during `GPT.forward`.
public final class QuantizingTransform: ActivationTransform {
    public let granularity: ActivationQuantization
    public let bits: Int
    /// Static ranges by site (`staticAsymmetric` only).
    let ranges: [ActivationSite: AffineQuantization]
    /// Static quantisers of each block's attention internals (`staticAsymmetric` only).
    let attention: [Int: StaticAttentionQuantizer]
    /// Called after a site is rewritten with its float input, the values it was rewritten to, rows,
    /// columns and scales (goldens, tests). Attention scores and probabilities are rewritten row by row on
    /// the workers and are not reported here; `recordsAttention` keeps them.
    var recorder: ((ActivationSite, [Float], UnsafeMutableBufferPointer<Float>, Int, Int, [Float]) -> Void)?
    /// When set (goldens), every block's rewritten attention internals of the next forward are kept in
    /// `recordedAttention`, so a replay can substitute them instead of re-deriving a rounding.
    var recordsAttention = false
    private(set) var recordedAttention: [Int: AttentionCollector] = [:]
    /// When set, only this site is quantised (per-site attribution); every other site stays float32.
    public internal(set) var onlySite: ActivationSite?
    /// SmoothQuant's explicit scales by linear-input site: x[:, j] is divided by s_j before any quantisation
    /// (also when `onlySite` leaves the site in float32: the smoothed model needs it to compute the same function).
    let smoothing: SmoothingTransform?

    init(granularity: ActivationQuantization, bits: Int, ranges: [ActivationSite: AffineQuantization] = [:],
         smoothing: [ActivationSite: [Float]] = [:]) {
        self.granularity = granularity
        self.bits = bits
        self.ranges = ranges
        self.smoothing = smoothing.isEmpty ? nil : SmoothingTransform(scales: smoothing)
        var attention: [Int: StaticAttentionQuantizer] = [:]
        for case .attentionScores(let l) in ranges.keys {
            attention[l] = StaticAttentionQuantizer(queriesAndKeys: ranges[.queryKeyNormOutput(layer: l)],
                                                    scores: ranges[.attentionScores(layer: l)],
                                                    probabilities: ranges[.attentionProbabilities(layer: l)])
        }
        self.attention = attention
    }

    public func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        smoothing?.transform(site, values, rows: rows, cols: cols)
        if let onlySite, site != onlySite { return }
        let isQuantised = switch granularity {
        case .perTensorDynamic, .perTokenDynamic: site.isLinearInput
        case .staticAsymmetric: ranges[site] != nil
        }
        guard isQuantised else { return }
        let input = recorder == nil ? [] : Array(values)
        let scales: [Float]
        if granularity == .staticAsymmetric, let quantization = ranges[site] {
            quantization.fakeQuantize(values)
            scales = [quantization.scale]
        } else {
            scales = fakeQuantizeSymmetric(values, rows: rows, columns: cols,
                                           granularity: granularity == .perTensorDynamic ? .perTensor : .perToken, bits: bits)
        }
        recorder?(site, input, values, rows, cols, scales)
    }

    public func attentionTransform(layer: Int, batch: Int, heads: Int, length: Int) -> AttentionTransform? {
        guard onlySite == nil, let quantizer = attention[layer] else { return nil }
        guard recordsAttention else { return quantizer }
        let collector = AttentionCollector(heads: batch * heads, length: length)
        recordedAttention[layer] = collector
        return RecordingAttentionTransform(quantizer: quantizer, collector: collector)
    }
}

/// Fake-quantises one block's QK-norm outputs, attention scores and probabilities with static ranges;
/// immutable, so the concurrent per-head calls need no coordination.
final class StaticAttentionQuantizer: AttentionTransform {
    let queriesAndKeys: AffineQuantization?
    let scores: AffineQuantization?
    let probabilities: AffineQuantization?

    init(queriesAndKeys: AffineQuantization?, scores: AffineQuantization?, probabilities: AffineQuantization?) {
        self.queriesAndKeys = queriesAndKeys
        self.scores = scores
        self.probabilities = probabilities
    }

    func normalisedQueriesAndKeys(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        queriesAndKeys?.fakeQuantize(values)
    }
    func scores(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) { scores?.fakeQuantize(row) }
    func probabilities(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) { probabilities?.fakeQuantize(row) }
}

/// Applies a block's static quantiser, then keeps what it wrote (goldens only).
final class RecordingAttentionTransform: AttentionTransform, @unchecked Sendable {
    let quantizer: StaticAttentionQuantizer
    let collector: AttentionCollector

    init(quantizer: StaticAttentionQuantizer, collector: AttentionCollector) {
        self.quantizer = quantizer
        self.collector = collector
    }

    func normalisedQueriesAndKeys(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        quantizer.normalisedQueriesAndKeys(values, rows: rows, cols: cols)
        collector.normalisedQueriesAndKeys(values, rows: rows, cols: cols)
    }
    func scores(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        quantizer.scores(row, head: head, query: query)
        collector.scores(row, head: head, query: query)
    }
    func probabilities(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        quantizer.probabilities(row, head: head, query: query)
        collector.probabilities(row, head: head, query: query)
    }
}

/// Copies one forward pass's attention internals of one block for calibration: every causal score and
/// probability row into its own slot (head·T(T+1)/2 + query(query+1)/2), so the concurrent per-head calls
/// write disjoint memory and the tensor reads back in (head, query) order whatever the worker count.
final class AttentionCollector: AttentionTransform, @unchecked Sendable {
    let length: Int
    let scoreValues: UnsafeMutableBufferPointer<Float>        // (B·H·T(T+1)/2) causal entries
    let probabilityValues: UnsafeMutableBufferPointer<Float>  // (B·H·T(T+1)/2)
    private(set) var queriesAndKeys: [Float] = []             // (B·T, 2C), QK-norm only

    init(heads: Int, length: Int) {
        self.length = length
        let count = heads * length * (length + 1) / 2
        scoreValues = .allocate(capacity: count)
        probabilityValues = .allocate(capacity: count)
        scoreValues.initialize(repeating: 0)
        probabilityValues.initialize(repeating: 0)
    }

    deinit {
        scoreValues.deallocate()
        probabilityValues.deallocate()
    }

    private func slot(head: Int, query: Int) -> Int { head * length * (length + 1) / 2 + query * (query + 1) / 2 }

    func normalisedQueriesAndKeys(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) { queriesAndKeys = Array(values) }
    func scores(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        _ = UnsafeMutableBufferPointer(rebasing: scoreValues[slot(head: head, query: query)...]).update(fromContentsOf: row)
    }
    func probabilities(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        _ = UnsafeMutableBufferPointer(rebasing: probabilityValues[slot(head: head, query: query)...]).update(fromContentsOf: row)
    }
}

/// Folds every static site's values into a range observer (calibration; never rewrites).
final class ObservingTransform: ActivationTransform {
    let momentum: Double
    let percentile: Double?
    var observers: [ActivationSite: RangeObserver] = [:]
    /// Sites in first-seen (forward) order.
    var order: [ActivationSite] = []
    var failure: Error?
    /// Attention internals of the current forward pass, folded in by `finishForward` (block order).
    private var attention: [(layer: Int, collector: AttentionCollector)] = []
    private let qkNorm: Bool

    init(momentum: Double, percentile: Double?, qkNorm: Bool) {
        self.momentum = momentum
        self.percentile = percentile
        self.qkNorm = qkNorm
    }

    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        observe(site, UnsafeBufferPointer(values))
    }

    func attentionTransform(layer: Int, batch: Int, heads: Int, length: Int) -> AttentionTransform? {
        let collector = AttentionCollector(heads: batch * heads, length: length)
        attention.append((layer, collector))
        for site in (qkNorm ? [ActivationSite.queryKeyNormOutput(layer: layer)] : []) + [.attentionScores(layer: layer), .attentionProbabilities(layer: layer)] {
            register(site)
        }
        return collector
    }

    /// Folds the attention internals collected during the forward pass that just ended.
    func finishForward() {
        for (layer, collector) in attention {
            if qkNorm { collector.queriesAndKeys.withUnsafeBufferPointer { observe(.queryKeyNormOutput(layer: layer), $0) } }
            observe(.attentionScores(layer: layer), UnsafeBufferPointer(collector.scoreValues))
            observe(.attentionProbabilities(layer: layer), UnsafeBufferPointer(collector.probabilityValues))
        }
        attention = []
    }

    private func register(_ site: ActivationSite) {
        guard observers[site] == nil else { return }
        observers[site] = RangeObserver(momentum: momentum, percentile: percentile)
        order.append(site)
    }

    private func observe(_ site: ActivationSite, _ values: UnsafeBufferPointer<Float>) {
        guard failure == nil else { return }
        register(site)
        do { try observers[site]!.observe(values) } catch {
            failure = OutlierLabError("calibration at \(site.name): \((error as? OutlierLabError)?.message ?? "\(error)")")
        }
    }
}

/// A quantised copy of a model: `parameters` is a clone of the float arena with the scheme's weights
/// fake-quantised (the float arena is only read), `model` runs over it, and `transform` (nil for
/// `w8-only`) quantises activations. Build once, evaluate many batches.
public final class QuantizedModel {
    public let config: ModelConfig
    public let settings: QuantSettings
    public let parameters: FloatArena
    public let model: GPT
    public let transform: QuantizingTransform?
    /// Per weight tensor: scales (and clipping), empty when weights stay float.
    public let weights: [QuantizedWeight]
    /// Static ranges in forward order (`w8a8-static` only).
    public let ranges: [CalibratedRange]
    public let calibration: StaticCalibration?
    /// The smoothing folded into `parameters` (`w8a8-smooth` only).
    public let smoothing: SmoothQuantPlan?

    /// The activation sites this scheme quantises, in forward order: every calibrated site (static), every
    /// linear input (dynamic) or none.
    public var activationSites: [ActivationSite] {
        if let onlySite = transform?.onlySite { return [onlySite] }
        switch settings.scheme.activations {
        case nil: return []
        case .staticAsymmetric: return ranges.map(\.site)
        case .perTensorDynamic, .perTokenDynamic:
            return (0..<config.layers).flatMap { l in LinearLayer.allCases.map { ActivationSite.linearInput(layer: l, linear: $0) } }
        }
    }

    /// Quantises a clone of `parameters` for `settings`. `w8a8-static` and `w8a8-smooth` need `calibration`
    /// (train-split bytes and options); other schemes ignore it. `w8a8-smooth` folds its scales into the
    /// clone before the weights are quantised.
    /// `onlySite` restricts activation quantisation to one site (weights follow the scheme everywhere):
    /// with `a8-only` it measures what quantising that one input costs.
    public init(config: ModelConfig, parameters: FloatArena, settings: QuantSettings, maxBatch: Int,
                calibration: StaticCalibration? = nil, onlySite: ActivationSite? = nil) throws {
        try config.validate()
        guard parameters.layout == config.parameterLayout() else {
            throw OutlierLabError("the parameters do not match the model config (\(config.block.rawValue), d=\(config.width), L=\(config.layers))")
        }
        self.config = config
        self.settings = settings
        let clone = parameters.clone()
        if settings.scheme == .w8a8Smooth {
            guard let calibration else {
                throw OutlierLabError("\(settings.scheme.rawValue) needs calibration batches from the train split")
            }
            let maxima = try SmoothQuantPlan.channelMaxima(config: config, parameters: parameters, calibration: calibration)
            let plan = try SmoothQuantPlan(config: config, parameters: parameters, activationMaxima: maxima, alpha: settings.resolvedAlpha)
            plan.fold(into: clone, config: config)  // before the weights are quantised
            smoothing = plan
        } else {
            smoothing = nil
        }
        weights = settings.scheme.weights.map {
            quantizeLinearWeights(clone, config: config, granularity: $0, bits: settings.bits)
        } ?? []
        self.parameters = clone
        model = try GPT(config: config, parameters: clone, maxBatch: maxBatch)
        switch settings.scheme.activations {
        case nil:
            transform = nil
            ranges = []
            self.calibration = nil
        case .staticAsymmetric:
            guard let calibration else {
                throw OutlierLabError("\(settings.scheme.rawValue) needs calibration batches from the train split")
            }
            ranges = try QuantizedModel.calibrate(config: config, parameters: parameters, calibration: calibration, bits: settings.bits)
            var bySite: [ActivationSite: AffineQuantization] = [:]
            for range in ranges { bySite[range.site] = range.quantization }
            transform = QuantizingTransform(granularity: .staticAsymmetric, bits: settings.bits, ranges: bySite)
            self.calibration = calibration
        case let granularity?:
            transform = QuantizingTransform(granularity: granularity, bits: settings.bits, smoothing: smoothing?.explicitScales ?? [:])
            ranges = []
            self.calibration = smoothing == nil ? nil : calibration
        }
        if let onlySite {
            guard let transform, onlySite.isLinearInput || settings.scheme.activations == .staticAsymmetric else {
                throw OutlierLabError("\(settings.scheme.rawValue) does not quantise activation site \(onlySite.name)")
            }
            transform.onlySite = onlySite
        }
    }

    /// Static ranges: each calibration batch runs through the FLOAT model (as PyTorch's observers do
    /// before conversion) while every site's observer folds in its range; returned in forward order.
    public static func calibrate(config: ModelConfig, parameters: FloatArena, calibration: StaticCalibration,
                                 bits: Int) throws -> [CalibratedRange] {
        let observer = ObservingTransform(momentum: calibration.momentum, percentile: calibration.percentile, qkNorm: config.qkNorm)
        try runCalibrationBatches(config: config, parameters: parameters, calibration: calibration, transform: observer) {
            observer.finishForward()
            if let failure = observer.failure { throw failure }
        }
        return observer.order.map { site in
            let range = observer.observers[site]!
            return CalibratedRange(site: site, observer: range, quantization: range.quantization(bits: bits)!)
        }
    }

    /// Runs every calibration batch (crops of the train split) through the float model with `transform`
    /// installed, calling `afterBatch` after each forward pass.
    static func runCalibrationBatches(config: ModelConfig, parameters: FloatArena, calibration: StaticCalibration,
                                      transform: ActivationTransform, afterBatch: () throws -> Void) throws {
        let T = config.seq
        let starts = try calibration.cropStarts(sequenceLength: T)
        let model = try GPT(config: config, parameters: parameters, maxBatch: calibration.batchSize)
        var tokens = [Int32](repeating: 0, count: calibration.batchSize * T), targets = tokens
        let layout = TokenLayout(bos: calibration.bos)
        for batch in starts {
            calibration.train.withUnsafeBufferPointer { source in
                tokens.withUnsafeMutableBufferPointer { inputs in
                    targets.withUnsafeMutableBufferPointer { next in
                        for (row, start) in batch.enumerated() { layout.writeRow(source, start: start, length: T, inputs, next, at: row * T) }
                    }
                }
            }
            _ = tokens.withUnsafeBufferPointer { model.forward(tokens: $0, targets: nil, B: batch.count, T: T, transform: transform) }
            try afterBatch()
        }
    }
}
