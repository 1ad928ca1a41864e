import OLCore
import OLMetrics

/// How the per-tap values of one logged step become one number.
public enum TapReduction: Sendable, Equatable {
    case mean, max, min
    case tap(Int)
    /// Where in the stack the values sit: the Spearman ρ of the value against depth over the block
    /// outputs (taps 1…L, the embedding tap left out); 1 when they rise with every block.
    case depthRho
}

/// One logged value of a series after reducing over taps.
public struct SeriesPoint: Sendable, Equatable {
    public var step: Int
    public var value: Double
    public init(step: Int, value: Double) { (self.step, self.value) = (step, value) }
}

/// What a finished run left in its directory, read back for judging and plotting: every logged step of
/// `metrics.jsonl`, `summary.json`, and the cached quantised evaluations.
public struct RunRecord: Sendable {
    public var directory: String
    /// Logged steps in file order.
    public var log: [JSONValue]
    public var summary: JSONValue
    public var quantised: [QuantRequest: QuantisedPerplexity]
    /// The run's `config.json` (the trained config, as the trainer wrote it).
    public var config: JSONValue
    /// The measurements along the way (`evaluations.jsonl`, the config's `eval_at`), in step order.
    public var evaluations: [EvaluationPoint]

    public init(directory: String, log: [JSONValue], summary: JSONValue, quantised: [QuantRequest: QuantisedPerplexity] = [:],
                config: JSONValue = .object([]), evaluations: [EvaluationPoint] = []) {
        self.directory = directory
        self.evaluations = evaluations
        self.log = log
        self.summary = summary
        self.quantised = quantised
        self.config = config
    }

    /// The derived series "share of u₄₂ in the kurtosis updates": per tap, cum_u42 / (|cum_u41| + |cum_u42|
    /// + |cum_u43| + |cum_u44|) of the cumulative decomposition (OLMetrics' Metrics article; needs kurtosis_decomposition).
    public static let u42ShareKey = "u42_share"

    /// Reads a finished run directory and the quantised results for `requests` found in it.
    public static func load(_ directory: String, requests: Set<QuantRequest> = []) throws -> RunRecord {
        let text = try FileBytes.readText(directory + "/metrics.jsonl")
        let log = try text.split(separator: "\n").map { try JSONValue.parse(String($0), source: directory + "/metrics.jsonl") }
        let summary = try JSONValue.parse(bytes: try FileBytes.read(directory + "/summary.json"), source: directory + "/summary.json")
        var quantised: [QuantRequest: QuantisedPerplexity] = [:]
        for request in requests {
            quantised[request] = try QuantisedPerplexity.cached(request, in: directory)
        }
        let configPath = directory + "/config.json"
        let config = FilePath.exists(configPath) ? try JSONValue.parse(bytes: try FileBytes.read(configPath), source: configPath) : .object([])
        return RunRecord(directory: directory, log: log, summary: summary, quantised: quantised, config: config,
                         evaluations: try EvaluationPoint.load(directory))
    }

    /// Number of values per step of a per-tap series (0 if absent).
    public func tapCount(_ name: String) -> Int { values(name, in: log.last ?? .null)?.count ?? 0 }

    /// The per-tap values of `name` in one log record, derived series included.
    func values(_ name: String, in record: JSONValue) -> [Double]? {
        guard name == Self.u42ShareKey else { return record[name]?.arrayValue?.map { $0.doubleValue ?? .nan } }
        let terms = ["cum_u41", "cum_u42", "cum_u43", "cum_u44"].compactMap { record[$0]?.arrayValue?.map { $0.doubleValue ?? .nan } }
        guard terms.count == 4, let taps = terms.first?.count, terms.allSatisfy({ $0.count == taps }) else { return nil }
        return (0..<taps).map { tap in
            let total = terms.reduce(0) { $0 + abs($1[tap]) }
            return total > 0 ? terms[1][tap] / total : .nan
        }
    }

    /// A per-tap series reduced over taps at every logged step (steps without the key are skipped).
    public func series(_ name: String, reducedBy reduction: TapReduction) throws -> [SeriesPoint] {
        var points: [SeriesPoint] = []
        for record in log {
            guard let step = record["step"]?.intValue, let values = values(name, in: record), !values.isEmpty else { continue }
            let value: Double
            switch reduction {
            case .mean: value = Statistics.mean(values)
            case .max: value = values.max()!
            case .min: value = values.min()!
            case .tap(let index):
                guard index < values.count else {
                    throw OutlierLabError("\(directory): tap \(index) requested but \(name) has \(values.count) taps")
                }
                value = values[index]
            case .depthRho:
                guard values.count >= 3 else {
                    throw OutlierLabError("\(directory): a rank over depth needs at least two blocks; \(name) has \(values.count) taps")
                }
                let blocks = Array(values.dropFirst())
                value = Statistics.spearman(blocks.indices.map(Double.init), blocks)
            }
            points.append(SeriesPoint(step: step, value: value))
        }
        guard !points.isEmpty else { throw OutlierLabError("\(directory)/metrics.jsonl has no '\(name)' values (were metrics on?)") }
        return points
    }

    /// A scalar log key (`loss`, `probe_loss`, ...) at every step where it is a number.
    public func scalar(_ name: String) -> [SeriesPoint] {
        log.compactMap { record in
            guard let step = record["step"]?.intValue, let value = record[name]?.doubleValue else { return nil }
            return SeriesPoint(step: step, value: value)
        }
    }
}
