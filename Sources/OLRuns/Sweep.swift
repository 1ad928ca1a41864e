import OLCore
import OLTraining

/// A user's own study (`olab sweep GRID.json`): a base training config, named axes of overrides and
/// seeds, expanded to the cartesian product of the axes (first axis slowest) × seeds. Runs go into the
/// same config-hash cache as the audit's, so a sweep and an audit, or two sweeps, share equal runs.
///
/// ```json
/// { "base": { "width": 64, "layers": 4, "heads": 4, "seq": 64, "batch": 16, "steps": 300 },
///   "axes": { "block": ["preLN", "op"], "lr": [0.001, 0.003] },
///   "seeds": [0, 1],
///   "quantisation": [ { "scheme": "w8a8-naive", "bits": 8 }, { "scheme": "w8a8-naive", "bits": 4 } ] }
/// ```
/// Keys of `base` and axis names are `config.json` keys (`olab train --help` lists them); `seed` is set
/// by `seeds`, and `quantisation` (optional) adds quantised evaluations beyond the W8A8-naive
/// perplexity every run's summary already has.
public struct SweepGrid: Sendable {
    public var base: [JSONMember]
    /// Axis name and its values, in the file's order.
    public var axes: [(name: String, values: [JSONValue])]
    public var seeds: [UInt64]
    public var quantisations: [QuantRequest]

    /// More runs than this is almost certainly a mistake in the grid (and a very long sweep).
    public static let maximumRuns = 10_000

    /// Reads a grid; every error is one line, control characters from the file escaped.
    public init(json: JSONValue, source: String) throws {
        do {
            try self.init(checkedJSON: json, source: source)
        } catch let error as OutlierLabError {
            throw OutlierLabError(error.message.escapingControlCharacters)
        }
    }

    private init(checkedJSON json: JSONValue, source: String) throws {
        guard let members = json.objectMembers else { throw OutlierLabError("\(source): a sweep grid is a JSON object with base, axes and seeds") }
        let known: Set<String> = ["base", "axes", "seeds", "quantisation"]
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw OutlierLabError("\(source): unknown key '\(unknown.key)' (a grid has base, axes, seeds and optionally quantisation)")
        }
        guard let base = json["base"]?.objectMembers else { throw OutlierLabError("\(source): base must be an object of config keys") }
        if base.contains(where: { $0.key == "seed" }) { throw OutlierLabError("\(source): base sets seed; list the seeds in seeds instead") }
        guard let axes = json["axes"]?.objectMembers, !axes.isEmpty else {
            throw OutlierLabError("\(source): axes must be a non-empty object of config key → list of values")
        }
        guard let seedValues = json["seeds"]?.arrayValue, !seedValues.isEmpty else {
            throw OutlierLabError("\(source): seeds must be a non-empty list of non-negative integers")
        }
        // The run count, overflow-checked, before any work that grows faster than the grid itself.
        var count: Int? = seedValues.count  // nil once the product overflows
        for axis in axes {
            guard let sofar = count else { break }
            let (product, overflow) = sofar.multipliedReportingOverflow(by: max(1, axis.value.arrayValue?.count ?? 1))
            count = overflow ? nil : product
        }
        guard let count, count <= Self.maximumRuns else {
            let size = count.map { "\($0) runs" } ?? "more than \(Int.max) runs"
            throw OutlierLabError("\(source): the grid expands to \(size) (\(axes.count) axes × \(seedValues.count) seeds), more than the \(Self.maximumRuns) allowed")
        }
        var parsedAxes: [(name: String, values: [JSONValue])] = []
        for axis in axes {
            if axis.key == "seed" { throw OutlierLabError("\(source): seed cannot be an axis; list the seeds in seeds") }
            guard let values = axis.value.arrayValue, !values.isEmpty else {
                throw OutlierLabError("\(source): axis '\(axis.key)' must be a non-empty list of values")
            }
            var seen = Set<String>()
            for value in values {
                guard value.objectMembers == nil && value.arrayValue == nil else {
                    throw OutlierLabError("\(source): axis '\(axis.key)' must list plain values (numbers, strings, booleans, null)")
                }
                guard seen.insert(value.serialized()).inserted else {
                    throw OutlierLabError("\(source): axis '\(axis.key)' lists \(value.serialized()) twice")
                }
            }
            parsedAxes.append((axis.key, values))
        }
        var seeds: [UInt64] = []
        var seenSeeds = Set<UInt64>()
        for value in seedValues {
            guard let seed = value.intValue, seed >= 0 else {
                throw OutlierLabError("\(source): seeds must be non-negative integers, got \(value.serialized())")
            }
            guard seenSeeds.insert(UInt64(seed)).inserted else {
                throw OutlierLabError("\(source): seed \(seed) is listed twice; repeated seeds would be reported as a spread of zero")
            }
            seeds.append(UInt64(seed))
        }
        var quantisations: [QuantRequest] = []
        for request in json["quantisation"]?.arrayValue ?? [] {
            guard let scheme = request["scheme"]?.stringValue, let bits = request["bits"]?.intValue else {
                throw OutlierLabError("\(source): every quantisation entry needs a scheme and bits, e.g. {\"scheme\": \"w8a8-naive\", \"bits\": 8}")
            }
            guard SchemeEvaluator().schemes.contains(scheme), [4, 6, 8].contains(bits) else {
                throw OutlierLabError("\(source): quantisation \(scheme) @ \(bits) bit: scheme must be one of \(SchemeEvaluator().schemes.sorted().joined(separator: "|")) and bits 8, 6 or 4")
            }
            quantisations.append(QuantRequest(scheme: scheme, bits: bits))
        }
        self.base = base
        self.axes = parsedAxes
        self.seeds = seeds
        self.quantisations = Array(Set(quantisations)).sorted()
    }

    public static func load(_ path: String) throws -> SweepGrid {
        try SweepGrid(json: try JSONValue.parse(bytes: try FileBytes.read(path), source: path), source: path)
    }

    /// Every combination of axis values, first axis slowest.
    public var combinations: [[JSONMember]] {
        axes.reduce([[]]) { partial, axis in partial.flatMap { prefix in axis.values.map { prefix + [JSONMember(axis.name, $0)] } } }
    }
}

/// One run of a sweep: its overrides, seed, config and cache key.
public struct SweepRun: Sendable {
    public var overrides: [JSONMember]
    public var seed: UInt64
    public var config: TrainingConfig
    public var key: String

    /// "block=op lr=0.003 seed 1".
    public var label: String {
        (overrides.map { "\($0.key)=\(SweepGrid.text($0.value))" } + ["seed \(seed)"]).joined(separator: " ").escapingControlCharacters
    }
}

/// A grid expanded to runs, every config validated before anything runs.
public struct SweepPlan: Sendable {
    public var grid: SweepGrid
    public var runs: [SweepRun]

    /// - Parameter corpus: a corpus path or "synthetic" that replaces the grid's own (`--corpus`).
    public init(grid: SweepGrid, corpus: String? = nil, source: String = "sweep grid") throws {
        self.grid = grid
        var fingerprints: [String: String] = [:]
        var runs: [SweepRun] = []
        var seen: [String: String] = [:]
        for overrides in grid.combinations {
            for seed in grid.seeds {
                var members = grid.base.filter { member in !overrides.contains { $0.key == member.key } } + overrides
                if let corpus { members = members.filter { $0.key != "corpus" } + [JSONMember("corpus", .string(corpus))] }
                members.append(JSONMember("seed", .int(Int64(seed))))
                let label = (overrides.map { "\($0.key)=\(SweepGrid.text($0.value))" } + ["seed \(seed)"]).joined(separator: " ").escapingControlCharacters
                let config = try TrainingConfig(json: .object(members), source: "\(source), run \(label)")
                let fingerprint: String
                if let known = fingerprints[config.corpus] {
                    fingerprint = known
                } else {
                    fingerprint = try RunSpec.fingerprint(config)
                    fingerprints[config.corpus] = fingerprint
                }
                let key = RunSpec.cacheKey(config, corpusFingerprint: fingerprint)
                if let other = seen[key] {
                    throw OutlierLabError("\(source): runs \(other) and \(label) have the same config (an axis value equal to the default?)")
                }
                seen[key] = label
                runs.append(SweepRun(overrides: overrides, seed: seed, config: config, key: key))
            }
        }
        self.runs = runs
    }

    /// The tasks for the scheduler: every run with the grid's quantised evaluations.
    public var tasks: [RunTask] {
        runs.map { run in
            RunTask(spec: RunSpec(key: run.key, config: run.config, quantisations: grid.quantisations, label: "sweep " + run.label),
                    estimatedSeconds: CostModel.measured.seconds(run.config, quantisedEvaluations: grid.quantisations.count))
        }
    }
}

extension SweepGrid {
    /// A value as run labels and result cells show it: strings as they are, numbers in their shortest
    /// round-trip form, null as empty.
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: ""
        case .string(let s): s
        case .double(let x): x.isFinite ? "\(x)" : (x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf"))
        default: value.serialized()
        }
    }
}
