import Foundation
import OLCore
import OLMetrics

/// Which way a statistic must lie relative to its threshold.
public enum Comparison: Sendable, Equatable {
    case atLeast(Double)
    case atMost(Double)

    public var threshold: Double {
        switch self {
        case .atLeast(let t), .atMost(let t): t
        }
    }

    public func passes(_ statistic: Double) -> Bool {
        guard statistic.isFinite else { return false }
        switch self {
        case .atLeast(let t): return statistic >= t
        case .atMost(let t): return statistic <= t
        }
    }

    public func with(threshold: Double) -> Comparison {
        switch self {
        case .atLeast: .atLeast(threshold)
        case .atMost: .atMost(threshold)
        }
    }

    public var text: String {
        switch self {
        case .atLeast(let t): "≥ \(formatNumber(t))"
        case .atMost(let t): "≤ \(formatNumber(t))"
        }
    }
}

/// Two arms compared by a ratio, difference or margin predicate.
public struct ArmPair: Sendable, Equatable {
    public var first: String
    public var second: String
    public init(_ first: String, _ second: String) { self.first = first; self.second = second }
}

/// A claim's test: a statistic computed from per-arm values, compared with a threshold.
public struct Predicate: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// min over pairs of value(first) / value(second).
        case ratio([ArmPair])
        /// min over pairs of value(first) − value(second).
        case difference([ArmPair])
        /// max over pairs of value(first) / value(second) − 1: how much worse `first` is than `second`.
        case margin([ArmPair])
        /// Fraction of adjacent arms (in the listed order) whose values move in `increasing` direction.
        case monotone(arms: [String], increasing: Bool)
        /// Spearman rank correlation of the claim's metric with its `against` metric over the arms.
        case spearman(arms: [String])
        /// min over the listed arms of the metric itself (for a metric that is already a statistic of one
        /// run, such as a per-site correlation).
        case value(arms: [String])
    }

    public var kind: Kind
    public var comparison: Comparison

    public init(kind: Kind, comparison: Comparison) { (self.kind, self.comparison) = (kind, comparison) }

    /// What the statistic is, for reports.
    public var statisticName: String {
        switch kind {
        case .ratio: "min ratio"
        case .difference: "min difference"
        case .margin: "max relative excess"
        case .monotone(_, let increasing): "fraction of steps \(increasing ? "increasing" : "decreasing")"
        case .spearman: "Spearman ρ"
        case .value: "min value"
        }
    }

    /// Every arm the predicate reads (`all` for a correlation over the claim's arms).
    public func armNames(all: [String]) -> [String] {
        switch kind {
        case .ratio(let pairs), .difference(let pairs), .margin(let pairs): pairs.flatMap { [$0.first, $0.second] }
        case .monotone(let arms, _): arms
        case .spearman(let arms), .value(let arms): arms.isEmpty ? all : arms
        }
    }

    /// The statistic on one set of per-arm values; nan when a value is missing or the statistic undefined.
    public func statistic(_ values: [String: Double], against: [String: Double] = [:], allArms: [String]) -> Double {
        func pairs(_ pairs: [ArmPair], _ combine: (Double, Double) -> Double, _ reduce: ([Double]) -> Double?) -> Double {
            var results: [Double] = []
            for pair in pairs {
                guard let a = values[pair.first], let b = values[pair.second] else { return .nan }
                results.append(combine(a, b))
            }
            return reduce(results) ?? .nan
        }
        switch kind {
        case .ratio(let list): return pairs(list, { $0 / $1 }, { $0.min() })
        case .difference(let list): return pairs(list, { $0 - $1 }, { $0.min() })
        case .margin(let list): return pairs(list, { $0 / $1 - 1 }, { $0.max() })
        case .monotone(let arms, let increasing):
            let sweep = arms.compactMap { values[$0] }
            guard sweep.count == arms.count, sweep.count > 1 else { return .nan }
            let good = zip(sweep, sweep.dropFirst()).filter { increasing ? $1 > $0 : $1 < $0 }.count
            return Double(good) / Double(sweep.count - 1)
        case .spearman(let listed):
            let arms = listed.isEmpty ? allArms : listed
            let x = arms.compactMap { values[$0] }, y = arms.compactMap { against[$0] }
            guard x.count == arms.count, y.count == arms.count else { return .nan }
            return Statistics.spearman(x, y)
        case .value(let listed):
            let arms = listed.isEmpty ? allArms : listed
            let measured = arms.compactMap { values[$0] }
            guard measured.count == arms.count else { return .nan }
            return measured.min() ?? .nan
        }
    }

    init(json: JSONValue, path: String, reader: JSONReader) throws {
        guard let kindName = json["kind"]?.stringValue else { throw reader.fail("\(path).kind", "must be ratio|difference|margin|monotone|spearman|value") }
        func pairList() throws -> [ArmPair] {
            guard let values = json["pairs"]?.arrayValue, !values.isEmpty else { throw reader.fail("\(path).pairs", "must be a non-empty array of [arm, arm] pairs") }
            return try values.map {
                guard let pair = $0.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw reader.fail("\(path).pairs", "must hold [arm, arm] pairs of names")
                }
                return ArmPair(a, b)
            }
        }
        switch kindName {
        case "ratio": kind = .ratio(try pairList())
        case "difference": kind = .difference(try pairList())
        case "margin": kind = .margin(try pairList())
        case "monotone":
            guard let direction = json["direction"]?.stringValue, ["increasing", "decreasing"].contains(direction) else {
                throw reader.fail("\(path).direction", "must be increasing or decreasing")
            }
            let arms = try reader.names(json, "arms", path)
            guard arms.count >= 2 else { throw reader.fail("\(path).arms", "needs at least two arms for a trend") }
            kind = .monotone(arms: arms, increasing: direction == "increasing")
        case "spearman": kind = .spearman(arms: json["arms"] == nil ? [] : try reader.names(json, "arms", path))
        case "value": kind = .value(arms: json["arms"] == nil ? [] : try reader.names(json, "arms", path))
        default: throw reader.fail("\(path).kind", "must be ratio|difference|margin|monotone|spearman|value, got '\(kindName)'")
        }
        let atLeast = try reader.number(json, "at_least", path), atMost = try reader.number(json, "at_most", path)
        switch (atLeast, atMost) {
        case (let t?, nil): comparison = .atLeast(t)
        case (nil, let t?): comparison = .atMost(t)
        default: throw reader.fail(path, "needs exactly one of at_least or at_most")
        }
    }
}

