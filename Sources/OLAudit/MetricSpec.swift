import OLCore

/// Which number a claim reads from a finished run: a logged per-tap series reduced over taps and steps,
/// a `summary.json` value, or a quantised-perplexity measurement.
public struct MetricSpec: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A `metrics.jsonl` per-tap array (`kurtosis`, `mmr`, `feature_corr_rms`, `attention_entropy`, ...).
        case series(String)
        /// A `summary.json` number (`val_loss`, `val_ppl`, `final_loss`, ...).
        case summary(String)
        /// Quantised evaluation of `model.safetensors` with a scheme and bit width.
        case quantised(QuantRequest, QuantMeasure)
    }

    /// How the per-tap values of one logged step become one number.
    public enum TapReduction: Sendable, Equatable {
        case mean, max, min
        case tap(Int)
    }

    /// How the logged steps become one number.
    public enum StepReduction: String, Sendable, CaseIterable {
        /// The last logged step.
        case final
        /// The largest value over logged steps after step 0.
        case peak
        /// The smallest value over logged steps after step 0.
        case minimum = "min"
        /// The mean over the last fifth of the logged steps (less noisy than one probe measurement).
        case tailMean = "tail_mean"
    }

    public var source: Source
    public var taps: TapReduction = .mean
    public var steps: StepReduction = .final
    /// Subtract 1 (the kurtosis of equal-RMS neurons), so ratios compare the outlier excess.
    public var excess = false

    public init(source: Source, taps: TapReduction = .mean, steps: StepReduction = .final, excess: Bool = false) {
        self.source = source
        self.taps = taps
        self.steps = steps
        self.excess = excess
    }

    /// Log series a claim may name (the `metrics.jsonl` schema).
    public static let seriesKeys = ["kurtosis", "kurtosis_centred", "mmr", "mmr_centred", "token_corr_mean", "token_corr_rms",
                                    "feature_corr_rms", "token_cosine_mean", "activation_rms", "attention_entropy"]

    init(json: JSONValue, path: String, reader: JSONReader) throws {
        if let series = json["series"]?.stringValue {
            guard Self.seriesKeys.contains(series) else {
                throw reader.fail("\(path).series", "must be one of \(Self.seriesKeys.joined(separator: ", ")), got '\(series)'")
            }
            source = .series(series)
        } else if let key = json["summary"]?.stringValue {
            source = .summary(key)
        } else if let measure = json["quantised"]?.stringValue {
            guard let parsed = QuantMeasure(rawValue: measure) else {
                throw reader.fail("\(path).quantised", "must be one of \(QuantMeasure.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let scheme = try reader.string(json, "scheme", path)
            guard let bits = json["bits"]?.intValue, [4, 6, 8].contains(bits) else { throw reader.fail("\(path).bits", "must be 8, 6 or 4") }
            source = .quantised(QuantRequest(scheme: scheme, bits: bits), parsed)
        } else {
            throw reader.fail(path, "needs one of 'series', 'summary' or 'quantised'")
        }
        switch json["taps"] {
        case nil, .string("mean"): taps = .mean
        case .string("max"): taps = .max
        case .string("min"): taps = .min
        case .int(let index) where index >= 0: taps = .tap(Int(index))
        default: throw reader.fail("\(path).taps", "must be mean, max, min or a tap index")
        }
        if let name = json["steps"] {
            guard let text = name.stringValue, let parsed = StepReduction(rawValue: text) else {
                throw reader.fail("\(path).steps", "must be one of \(StepReduction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            steps = parsed
        }
        if let flag = json["excess"] {
            guard let value = flag.boolValue else { throw reader.fail("\(path).excess", "must be true or false") }
            excess = value
        }
    }

    /// A short human label, e.g. "kurtosis − 1 (layer mean, tail mean)".
    public var label: String {
        let tapText: String
        switch taps {
        case .mean: tapText = "layer mean"
        case .max: tapText = "layer max"
        case .min: tapText = "layer min"
        case .tap(let index): tapText = "tap \(index)"
        }
        switch source {
        case .series(let name):
            return "\(name)\(excess ? " − 1" : "") (\(tapText), \(steps == .tailMean ? "tail mean" : steps.rawValue))"
        case .summary(let key): return key + (excess ? " − 1" : "")
        case .quantised(let request, let measure): return "\(measure.rawValue) \(request.label)"
        }
    }

    /// The quantised measurement this metric needs, if any.
    public var quantRequest: QuantRequest? {
        if case .quantised(let request, _) = source { return request }
        return nil
    }

    /// The metric's value on a finished run.
    public func value(in run: RunRecord) throws -> Double {
        let raw: Double
        switch source {
        case .series(let name):
            let points = try run.series(name, reducedBy: taps)
            let trained = points.filter { $0.step > 0 }
            guard let last = trained.last else { throw OutlierLabError("\(run.directory): no logged step after 0 for \(name)") }
            switch steps {
            case .final: raw = last.value
            case .peak: raw = trained.map(\.value).max()!
            case .minimum: raw = trained.map(\.value).min()!
            case .tailMean:
                let tail = trained.filter { Double($0.step) >= 0.8 * Double(last.step) }
                raw = Statistics.mean(tail.map(\.value))
            }
        case .summary(let key):
            guard let value = run.summary[key]?.doubleValue else { throw OutlierLabError("\(run.directory)/summary.json has no number '\(key)'") }
            raw = value
        case .quantised(let request, let measure):
            guard let result = run.quantised[request] else { throw OutlierLabError("\(run.directory): no \(request.label) measurement") }
            raw = result.value(measure)
        }
        return excess ? raw - 1 : raw
    }
}

/// A quantised evaluation: scheme name (SPEC §7, e.g. `w8a8-naive`) and bit width.
public struct QuantRequest: Hashable, Sendable, Comparable {
    public var scheme: String
    public var bits: Int
    public init(scheme: String, bits: Int) { self.scheme = scheme; self.bits = bits }
    public var label: String { "\(scheme) @ \(bits) bit" }
    public var fileName: String { "quant-\(scheme)-\(bits)bit.json" }
    public static func < (a: QuantRequest, b: QuantRequest) -> Bool { (a.scheme, a.bits) < (b.scheme, b.bits) }
}

extension QuantisedPerplexity {
    /// The measurement of `request` cached in a run directory (`<run>/quant-<scheme>-<bits>bit.json`, shared
    /// by audits, sweeps and `olab report`), or nil when there is none.
    public static func cached(_ request: QuantRequest, in directory: String) throws -> QuantisedPerplexity? {
        let path = directory + "/" + request.fileName
        guard FilePath.exists(path) else { return nil }
        let json = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
        guard let float = json["float_ppl"]?.doubleValue, let quant = json["quantised_ppl"]?.doubleValue else {
            throw OutlierLabError("\(path): expected numbers float_ppl and quantised_ppl")
        }
        return QuantisedPerplexity(floatPPL: float, quantisedPPL: quant)
    }

    /// Caches this measurement of `request` in a run directory, atomically.
    public func write(_ request: QuantRequest, in directory: String) throws {
        try AtomicFile.write(JSONValue.object([
            "scheme": .string(request.scheme), "bits": .int(Int64(request.bits)),
            "float_ppl": .double(floatPPL), "quantised_ppl": .double(quantisedPPL),
        ]).serialized(pretty: true) + "\n", to: directory + "/" + request.fileName)
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
    public init(floatPPL: Double, quantisedPPL: Double) { self.floatPPL = floatPPL; self.quantisedPPL = quantisedPPL }

    public func value(_ measure: QuantMeasure) -> Double {
        switch measure {
        case .deltaPPL: quantisedPPL - floatPPL
        case .pplRatio: quantisedPPL / floatPPL
        case .quantisedPPL: quantisedPPL
        }
    }
}
