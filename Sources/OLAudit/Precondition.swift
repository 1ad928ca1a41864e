import OLCore
import OLMetrics

/// What a claim needs before its predicate can say anything ("untestable at this scale", see the AuditV3 article),
/// registry JSON `"preconditions": [{"kind": …, "arm": …, "metric": {…}, "at_least": …}]`. Checked on
/// the mean over the claim's confirming seeds, before the predicate: a failed precondition makes the
/// claim untestable at this scale, whatever its predicate reads.
public struct ClaimPrecondition: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The outlier-prone arm shows outlier features: `metric` (e.g. the peak kurtosis over taps, or the
        /// peak max/median ratio at a quantised site) reaches the stated level.
        case outlierFeatures = "outlier_features"
        /// The positive control resolves an effect of the claim's size under the claim's own protocol:
        /// `metric` is a quantised measurement of the arm's model with a planted outlier channel of known
        /// size (`"planted": factor`); it must reach the stated level with every seed's Δppl interval over
        /// the evaluation windows excluding 0.
        case positiveControl = "positive_control"

        var label: String { self == .outlierFeatures ? "outlier features" : "positive control" }
    }

    public var kind: Kind
    /// The arm whose runs are measured (one of the claim's arms).
    public var arm: String
    public var metric: MetricSpec
    public var comparison: Comparison

    public init(kind: Kind, arm: String, metric: MetricSpec, comparison: Comparison) {
        self.kind = kind
        self.arm = arm
        self.metric = metric
        self.comparison = comparison
    }

    init(json: JSONValue, path: String, reader: JSONReader) throws {
        let kindName = try reader.string(json, "kind", path)
        guard let kind = Kind(rawValue: kindName) else {
            throw reader.fail("\(path).kind", "must be \(Kind.allCases.map(\.rawValue).joined(separator: " or ")), got '\(kindName)'")
        }
        self.kind = kind
        arm = try reader.string(json, "arm", path)
        guard let metricValue = json["metric"] else { throw reader.fail("\(path).metric", "is missing") }
        metric = try MetricSpec(json: metricValue, path: "\(path).metric", reader: reader)
        if kind == .positiveControl {
            guard case .quantised(let request, _) = metric.source, request.planted != nil else {
                throw reader.fail("\(path).metric", "of a positive control must be a quantised measurement with a planted channel (\"planted\": factor)")
            }
        }
        switch (try reader.number(json, "at_least", path), try reader.number(json, "at_most", path)) {
        case (let t?, nil): comparison = .atLeast(t)
        case (nil, let t?): comparison = .atMost(t)
        default: throw reader.fail(path, "needs exactly one of at_least or at_most")
        }
    }

    /// The precondition checked on the arm's per-seed values; `resolved` holds, per seed, whether a
    /// positive control's Δppl interval excludes 0 (ignored for outlier features).
    public func check(values: [Double], resolved: [Bool] = []) -> PreconditionCheck {
        let unresolved = kind == .positiveControl ? resolved.filter { !$0 }.count : 0
        return PreconditionCheck(precondition: self, measured: Statistics.mean(values), seeds: values.count, unresolvedSeeds: unresolved)
    }
}

/// A precondition as measured: met, or failed by how much.
public struct PreconditionCheck: Sendable, Equatable {
    public var precondition: ClaimPrecondition
    /// The metric's mean over the confirming seeds.
    public var measured: Double
    public var seeds: Int
    /// Seeds whose positive-control Δppl interval over evaluation windows contains 0.
    public var unresolvedSeeds: Int

    public var met: Bool { precondition.comparison.passes(measured) && unresolvedSeeds == 0 }

    /// One sentence: what was needed, what was measured and, when it failed, by how much.
    public var text: String {
        let p = precondition
        var text = "\(p.kind.label): \(p.arm)'s \(p.metric.label) \(formatNumber(measured)) over \(seeds) seed(s), needed \(p.comparison.text)"
        if !p.comparison.passes(measured) {
            let gap = abs(measured - p.comparison.threshold)
            let ratio = p.comparison.threshold != 0 ? ", \(formatNumber(measured / p.comparison.threshold))× the level" : ""
            text += " (short by \(formatNumber(gap))\(ratio))"
        }
        if unresolvedSeeds > 0 {
            text += "; \(unresolvedSeeds) of \(seeds) seed(s) do not resolve it (Δppl interval over windows contains 0)"
        }
        return text
    }
}
