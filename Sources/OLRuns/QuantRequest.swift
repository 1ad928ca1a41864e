import OLCore

/// A quantised evaluation: scheme name (e.g. `w8a8-naive`) and bit width, optionally restricted
/// to one linear layer's input (`site` "layer.linear", e.g. "2.fc": per-site attribution).
public struct QuantRequest: Hashable, Sendable, Comparable {
    public var scheme: String
    public var bits: Int
    public var site: String?
    /// A positive control: the model with channel 0 of every pre-norm multiplied by this power of two
    /// and the matching weight columns divided by it (`OutlierPlanting`), the same float function with
    /// one outlier feature of known size.
    public var planted: Int?
    public init(scheme: String, bits: Int, site: String? = nil, planted: Int? = nil) {
        self.scheme = scheme
        self.bits = bits
        self.site = site
        self.planted = planted
    }

    /// The linear layers whose inputs are quantisation sites, in forward order (the log keys' prefixes).
    public static let linearSites = ["qkv", "attn_proj", "fc", "mlp_proj"]

    public var label: String {
        "\(scheme) @ \(bits) bit" + (site.map { " at \($0) only" } ?? "") + (planted.map { " with a planted ×\($0) channel" } ?? "")
    }
    public var fileName: String {
        "quant-\(scheme)-\(bits)bit" + (site.map { "-site-\($0)" } ?? "") + (planted.map { "-planted\($0)" } ?? "") + ".json"
    }
    public static func < (a: QuantRequest, b: QuantRequest) -> Bool {
        (a.scheme, a.bits, a.site ?? "", a.planted ?? 0) < (b.scheme, b.bits, b.site ?? "", b.planted ?? 0)
    }

    /// The spec-file form: scheme, bits and (when restricted) site.
    public var json: JSONValue {
        var members = [JSONMember("scheme", .string(scheme)), JSONMember("bits", .int(Int64(bits)))]
        if let site { members.append(JSONMember("site", .string(site))) }
        if let planted { members.append(JSONMember("planted", .int(Int64(planted)))) }
        return .object(members)
    }
}

extension QuantisedPerplexity {
    /// The measurement of `request` cached in a run directory (`<run>/quant-<scheme>-<bits>bit.json`, shared
    /// by audits, sweeps and `olab report`), or nil when there is none.
    public static func cached(_ request: QuantRequest, in directory: String) throws -> QuantisedPerplexity? {
        let path = directory + "/" + request.fileName
        guard FilePath.exists(path) else { return nil }
        return try QuantisedPerplexity(json: try JSONValue.parse(bytes: try FileBytes.read(path), source: path), source: path)
    }

    /// Reads `float_ppl`, `quantised_ppl` and (when present) `delta_ppl_ci95` of one measurement.
    init(json: JSONValue, source: String) throws {
        guard let float = json["float_ppl"]?.doubleValue, let quant = json["quantised_ppl"]?.doubleValue else {
            throw OutlierLabError("\(source): expected numbers float_ppl and quantised_ppl")
        }
        var interval: ClosedRange<Double>?
        if let bounds = json["delta_ppl_ci95"]?.arrayValue, bounds.count == 2, let low = bounds[0].doubleValue, let high = bounds[1].doubleValue, low <= high {
            interval = low...high
        }
        self.init(floatPPL: float, quantisedPPL: quant, deltaInterval: interval)
    }

    /// `float_ppl`, `quantised_ppl` and (when resolved) `delta_ppl_ci95`, as the cached files hold them.
    var members: [JSONMember] {
        var members = [JSONMember("float_ppl", .double(floatPPL)), JSONMember("quantised_ppl", .double(quantisedPPL))]
        if let deltaInterval {
            members.append(JSONMember("delta_ppl_ci95", .array([.double(deltaInterval.lowerBound), .double(deltaInterval.upperBound)])))
        }
        return members
    }

    /// Caches this measurement of `request` in a run directory, atomically.
    public func write(_ request: QuantRequest, in directory: String) throws {
        try AtomicFile.write(JSONValue.object((request.json.objectMembers ?? []) + members).serialized(pretty: true) + "\n",
                             to: directory + "/" + request.fileName)
    }
}

/// What a quantised evaluation reports.
public enum QuantMeasure: String, Sendable, CaseIterable {
    /// quantised − float perplexity.
    case deltaPPL = "delta_ppl"
    /// quantised / float perplexity.
    case pplRatio = "ppl_ratio"
    case quantisedPPL = "quantised_ppl"
}

/// Float and quantised perplexity of one checkpoint on the fixed validation windows.
public struct QuantisedPerplexity: Sendable, Equatable {
    public var floatPPL: Double
    public var quantisedPPL: Double
    /// 95 % paired bootstrap interval of quantised − float ppl over the evaluation windows: the
    /// measurement's resolution (nil when the evaluator did not compute it).
    public var deltaInterval: ClosedRange<Double>?
    public init(floatPPL: Double, quantisedPPL: Double, deltaInterval: ClosedRange<Double>? = nil) {
        self.floatPPL = floatPPL
        self.quantisedPPL = quantisedPPL
        self.deltaInterval = deltaInterval
    }

    /// Whether the quantisation effect is resolved: its window interval excludes zero.
    public var isResolved: Bool? { deltaInterval.map { !$0.contains(0) } }

    public func value(_ measure: QuantMeasure) -> Double {
        switch measure {
        case .deltaPPL: quantisedPPL - floatPPL
        case .pplRatio: quantisedPPL / floatPPL
        case .quantisedPPL: quantisedPPL
        }
    }
}
