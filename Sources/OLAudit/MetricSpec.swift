import OLCore
import OLMetrics
import OLRuns

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
        /// One quantised measurement over another's on the same run (registry `"relative_to": scheme`):
        /// e.g. the share of w8a8-naive's Δppl that w8a8-smooth leaves.
        case quantisedRelative(QuantRequest, baseline: QuantRequest, QuantMeasure)
        /// A numeric key of the run's `config.json` (`lr`, `eps`, `beta_init`, ...): the x of a sweep's
        /// rank correlation.
        case config(String)
        /// Per-site attribution inside one run: the Spearman correlation, over the 4·L linear inputs, of
        /// the Δppl when only that input is quantised (scheme, bits) with that input's own outlier metric
        /// (`<linear>_in_<metric>` of the linear-input taps, last logged step).
        case siteCorrelation(scheme: String, bits: Int, tapMetric: String)
    }

    /// How the per-tap values of one logged step become one number.
    public typealias TapReduction = OLRuns.TapReduction

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
        /// Emergence over training: the tail mean over the mean of the first fifth of the logged steps
        /// after 0 (late over early; 1 when the value stays where it started).
        case growth
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
    public static let seriesKeys = TapMetrics.keys + ["attention_entropy", RunRecord.u42ShareKey]

    /// Linear-input metrics a site correlation may name.
    public static let siteMetrics = ["kurtosis", "kurtosis_centred", "mmr"]

    init(json: JSONValue, path: String, reader: JSONReader) throws {
        if let series = json["series"]?.stringValue {
            guard Self.seriesKeys.contains(series) else {
                throw reader.fail("\(path).series", "must be one of \(Self.seriesKeys.joined(separator: ", ")), got '\(series)'")
            }
            source = .series(series)
        } else if let key = json["summary"]?.stringValue {
            source = .summary(key)
        } else if let key = json["config"]?.stringValue {
            source = .config(key)
        } else if let metric = json["site_correlation"]?.stringValue {
            guard Self.siteMetrics.contains(metric) else {
                throw reader.fail("\(path).site_correlation", "must be one of \(Self.siteMetrics.joined(separator: ", ")), got '\(metric)'")
            }
            let scheme = try reader.string(json, "scheme", path)
            guard let bits = json["bits"]?.intValue, [4, 6, 8].contains(bits) else { throw reader.fail("\(path).bits", "must be 8, 6 or 4") }
            source = .siteCorrelation(scheme: scheme, bits: Int(bits), tapMetric: metric)
        } else if let measure = json["quantised"]?.stringValue {
            guard let parsed = QuantMeasure(rawValue: measure) else {
                throw reader.fail("\(path).quantised", "must be one of \(QuantMeasure.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let scheme = try reader.string(json, "scheme", path)
            guard let bits = json["bits"]?.intValue, [4, 6, 8].contains(bits) else { throw reader.fail("\(path).bits", "must be 8, 6 or 4") }
            var planted: Int?
            if let factor = json["planted"] {
                guard let value = factor.intValue, value >= 2, value <= 1024, value & (value - 1) == 0 else {
                    throw reader.fail("\(path).planted", "must be a power of two from 2 to 1024 (a planted channel's factor)")
                }
                planted = Int(value)
            }
            if let baseline = json["relative_to"] {
                guard let name = baseline.stringValue else { throw reader.fail("\(path).relative_to", "must be a scheme name") }
                source = .quantisedRelative(QuantRequest(scheme: scheme, bits: Int(bits), planted: planted),
                                            baseline: QuantRequest(scheme: name, bits: Int(bits), planted: planted), parsed)
            } else {
                source = .quantised(QuantRequest(scheme: scheme, bits: Int(bits), planted: planted), parsed)
            }
        } else {
            throw reader.fail(path, "needs one of 'series', 'summary', 'quantised', 'config' or 'site_correlation'")
        }
        switch json["taps"] {
        case nil, .string("mean"): taps = .mean
        case .string("max"): taps = .max
        case .string("min"): taps = .min
        case .string("depth_rho"): taps = .depthRho
        case .int(let index) where index >= 0: taps = .tap(Int(index))
        default: throw reader.fail("\(path).taps", "must be mean, max, min, depth_rho or a tap index")
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
            if excess && (taps == .depthRho || steps == .growth) {
                throw reader.fail("\(path).excess", "does not apply to a rank over depth or a growth ratio, which read the raw values")
            }
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
        case .depthRho: tapText = "Spearman ρ against depth over blocks"
        }
        switch source {
        case .series(let name):
            let stepText = switch steps {
            case .tailMean: "tail mean"
            case .growth: "tail mean over first-fifth mean"
            default: steps.rawValue
            }
            return "\(name)\(excess ? " − 1" : "") (\(tapText), \(stepText))"
        case .summary(let key): return key + (excess ? " − 1" : "")
        case .quantised(let request, let measure): return "\(measure.rawValue) \(request.label)"
        case .quantisedRelative(let request, let baseline, let measure):
            return "\(measure.rawValue) \(request.label) / \(measure.rawValue) \(baseline.label)"
        case .config(let key): return "config \(key)"
        case .siteCorrelation(let scheme, let bits, let metric):
            return "Spearman ρ over linear inputs of Δppl (\(scheme) @ \(bits) bit, one input at a time) against the input's \(metric)"
        }
    }

    /// Whether this metric is a quantised measurement (its resolution is checked before a verdict).
    public var isQuantised: Bool {
        switch source {
        case .quantised, .quantisedRelative, .siteCorrelation: true
        case .series, .summary, .config: false
        }
    }

    /// The quantised measurements this metric needs on a run of `model` (one per linear input for a site
    /// correlation).
    public func quantRequests(layers: Int) -> [QuantRequest] {
        switch source {
        case .quantised(let request, _): return [request]
        case .quantisedRelative(let request, let baseline, _): return [request, baseline]
        case .siteCorrelation(let scheme, let bits, _):
            return (0..<layers).flatMap { l in QuantRequest.linearSites.map { QuantRequest(scheme: scheme, bits: bits, site: "\(l).\($0)") } }
        case .series, .summary, .config: return []
        }
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
            case .growth:
                let tail = trained.filter { Double($0.step) >= 0.8 * Double(last.step) }
                let early = trained.filter { Double($0.step) <= 0.2 * Double(last.step) }
                guard !early.isEmpty, tail.count < trained.count else {
                    throw OutlierLabError("\(run.directory): too few logged steps of \(name) to compare early with late training")
                }
                raw = Statistics.mean(tail.map(\.value)) / Statistics.mean(early.map(\.value))
            }
        case .summary(let key):
            guard let value = run.summary[key]?.doubleValue else { throw OutlierLabError("\(run.directory)/summary.json has no number '\(key)'") }
            raw = value
        case .quantised(let request, let measure):
            guard let result = run.quantised[request] else { throw OutlierLabError("\(run.directory): no \(request.label) measurement") }
            raw = result.value(measure)
        case .quantisedRelative(let request, let baseline, let measure):
            guard let result = run.quantised[request] else { throw OutlierLabError("\(run.directory): no \(request.label) measurement") }
            guard let base = run.quantised[baseline] else { throw OutlierLabError("\(run.directory): no \(baseline.label) measurement") }
            raw = result.value(measure) / base.value(measure)
        case .config(let key):
            raw = try Self.configValue(key, in: run)
        case .siteCorrelation(let scheme, let bits, let metric):
            raw = try Self.siteCorrelation(run, scheme: scheme, bits: bits, metric: metric)
        }
        return excess ? raw - 1 : raw
    }

    /// Whether every seed's measurement of this quantised metric resolves its effect (nil when it is not
    /// a single quantised measurement or the evaluator gave no interval).
    public func isResolved(in run: RunRecord) -> Bool? {
        guard case .quantised(let request, _) = source else { return nil }
        return run.quantised[request]?.isResolved
    }
}

extension MetricSpec {
    /// A numeric config key of a run; `beta_init` left unset resolves to the block's default 1/√L.
    static func configValue(_ key: String, in run: RunRecord) throws -> Double {
        if let value = run.config[key]?.doubleValue { return value }
        if key == "beta_init", let layers = run.config["layers"]?.intValue, layers > 0 { return 1 / Double(layers).squareRoot() }
        throw OutlierLabError("\(run.directory)/config.json has no number '\(key)'")
    }

    /// Spearman ρ over the linear inputs of a run between each input's Δppl when quantised alone and its
    /// own outlier metric at the last logged step.
    static func siteCorrelation(_ run: RunRecord, scheme: String, bits: Int, metric: String) throws -> Double {
        guard let last = run.log.last(where: { $0[QuantRequest.linearSites[0] + "_in_" + metric] != nil }) else {
            throw OutlierLabError("\(run.directory)/metrics.jsonl has no linear-input taps (set linear_taps true)")
        }
        var damage: [Double] = [], outliers: [Double] = []
        for linear in QuantRequest.linearSites {
            guard let values = last[linear + "_in_" + metric]?.arrayValue else {
                throw OutlierLabError("\(run.directory)/metrics.jsonl has no \(linear)_in_\(metric)")
            }
            for (layer, value) in values.enumerated() {
                let request = QuantRequest(scheme: scheme, bits: bits, site: "\(layer).\(linear)")
                guard let result = run.quantised[request] else { throw OutlierLabError("\(run.directory): no \(request.label) measurement") }
                damage.append(result.value(.deltaPPL))
                outliers.append(value.doubleValue ?? .nan)
            }
        }
        return Statistics.spearman(outliers, damage)
    }
}
