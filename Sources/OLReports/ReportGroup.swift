import OLCore
import OLMetrics
import OLRuns
import OLTraining

/// One column of `olab report`: a run directory, or a sweep's runs that differ only in their seed
/// (drawn as the mean over seeds with a min–max band).
public struct ReportGroup: Sendable {
    public var label: String
    /// The runs in seed order; at least one.
    public var runs: [RunRecord]
    /// Each run's `config.json`, flattened to dotted keys (`model.width`, ...).
    public var configs: [[String: JSONValue]]

    public init(label: String, runs: [RunRecord], configs: [[String: JSONValue]]) {
        self.label = label
        self.runs = runs
        self.configs = configs
    }

    /// One group per run directory, labelled by the settings that differ between the runs
    /// (`block=preLN lr=0.01`), or by the shortest distinct tail of its path where that does not tell
    /// them apart (identical settings, or a label past 80 characters).
    public static func runs(_ directories: [String]) throws -> [ReportGroup] {
        let configs = try directories.map(config(of:))
        let labels = settingLabels(configs) ?? distinctTails(directories).map(RunReport.abbreviated)
        return try zip(directories, zip(labels, configs)).map { directory, labelled in
            try ReportGroup(label: labelled.0, runs: [verifiedRecord(directory)], configs: [labelled.1])
        }
    }

    /// `key=value` for every setting whose value differs between the configs, in key order; nil when
    /// that leaves two labels equal or one longer than 80 characters.
    static func settingLabels(_ configs: [[String: JSONValue]]) -> [String]? {
        guard configs.count > 1 else { return nil }
        let keys = Set(configs.flatMap(\.keys)).sorted().filter { key in Set(configs.map { $0[key].map(SweepGrid.text) ?? "—" }).count > 1 }
        let labels = configs.map { config in keys.map { "\($0)=\(config[$0].map(SweepGrid.text) ?? "—")" }.joined(separator: " ") }
        guard !keys.isEmpty, Set(labels).count == labels.count, labels.allSatisfy({ $0.count <= 80 }) else { return nil }
        return labels
    }

    /// A sweep's output directory (`results.jsonl`, `runs/`): its finished runs grouped by the swept axes
    /// (the `results.jsonl` keys before `seed`), groups in the sweep's order. Returns the axis names too.
    public static func sweep(_ directory: String) throws -> (groups: [ReportGroup], axes: [String], missing: [String]) {
        let path = directory + "/results.jsonl"
        let rows = try FileBytes.readText(path).split(separator: "\n").map { try JSONValue.parse(String($0), source: path) }
        guard let first = rows.first?.objectMembers, let seedIndex = first.firstIndex(where: { $0.key == "seed" }) else {
            throw OutlierLabError("\(path): no rows with a seed column; is this a sweep's output directory?")
        }
        let axes = first[..<seedIndex].map(\.key)
        var order: [String] = [], members: [String: [String]] = [:], missing: [String] = []
        for row in rows {
            let label = axes.map { "\($0)=\(SweepGrid.text(row[$0] ?? .null))" }.joined(separator: " ")
            guard row["status"]?.stringValue == "finished", let run = row["run"]?.stringValue else {
                missing.append("\(label) seed \(row["seed"]?.serialized() ?? "?"): \(row["status"]?.stringValue ?? "no status")")
                continue
            }
            if members[label] == nil { order.append(label) }
            members[label, default: []].append(directory + "/" + run)
        }
        let groups = try order.map { label in
            let directories = members[label]!
            return try ReportGroup(label: label, runs: directories.map(verifiedRecord), configs: directories.map(config(of:)))
        }
        return (groups, axes, missing)
    }

    /// A run's record, read only after its seal and its model's own config say it is the run it claims
    /// to be (`RunExecution.reportedRunProblem`), so no edited or foreign output reaches a report.
    static func verifiedRecord(_ directory: String) throws -> RunRecord {
        if let problem = RunExecution.reportedRunProblem(directory) {
            throw OutlierLabError("\(directory): \(problem); not reported (run its sweep or audit again to recompute it)")
        }
        return try RunRecord.load(directory)
    }

    /// Whether `directory` is a sweep's output (as opposed to one run).
    public static func isSweep(_ directory: String) -> Bool {
        FilePath.exists(directory + "/results.jsonl") && FilePath.exists(directory + "/runs")
    }

    /// A run's `config.json` flattened, with every key left null (the default applies) shown as the value
    /// the run used, `3e-3 (default)`, or `unused` where its block or optimiser has no such setting.
    static func config(of directory: String) throws -> [String: JSONValue] {
        let path = directory + "/config.json"
        let json = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
        var flat = flattened(json)
        guard let config = try? TrainingConfig(json: json, source: path) else { return flat }
        let hyper = Dictionary(((try? config.optimizerConfig())?.hyperParameters ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        for (key, value) in flat where value == .null {
            flat[key] = .string(resolvedDefault(key, config: config, hyperParameters: hyper))
        }
        return flat
    }

    static func resolvedDefault(_ key: String, config: TrainingConfig, hyperParameters: [String: Double]) -> String {
        switch key {
        case "final_norm": return "\(config.model.usesFinalNorm) (default)"
        case "beta_init": return config.model.block.scalesBranches ? formatNumber(config.model.resolvedBetaInit) + " (default)" : "unused"
        case "soft_cap", "clipped_softmax_alpha": return "off"
        case "eps_convention": return hyperParameters["eps_convention_hf"].map { $0 == 1 ? "hf (default)" : "torch (default)" } ?? "unused"
        case "nesterov", "precondition_embeddings": return hyperParameters[key].map { "\($0 == 1) (default)" } ?? "unused"
        default: return hyperParameters[key].map { formatNumber($0) + " (default)" } ?? "unused"
        }
    }

    /// Nested objects become dotted keys; arrays and scalars are leaves.
    static func flattened(_ json: JSONValue, prefix: String = "") -> [String: JSONValue] {
        guard let members = json.objectMembers else { return [prefix: json] }
        var result: [String: JSONValue] = [:]
        for member in members {
            result.merge(flattened(member.value, prefix: prefix.isEmpty ? member.key : prefix + "." + member.key)) { first, _ in first }
        }
        return result
    }

    /// For each path, its last components: as few as make every label distinct.
    static func distinctTails(_ paths: [String]) -> [String] {
        let components = paths.map { $0.split(separator: "/").map(String.init) }
        let deepest = components.map(\.count).max() ?? 1
        for depth in 1...max(1, deepest) {
            let tails = components.map { $0.suffix(depth).joined(separator: "/") }
            if Set(tails).count == tails.count { return tails }
        }
        return paths
    }
}

/// Mean over seeds with the min–max range, at the steps every seed logged.
struct SeedSummary {
    var steps: [Double]
    var mean: [Double], low: [Double], high: [Double]

    init(_ perSeed: [[SeriesPoint]]) {
        let common = perSeed.dropFirst().reduce(Set(perSeed.first?.map(\.step) ?? [])) { $0.intersection($1.map(\.step)) }
        let sorted = common.sorted()
        let lookups = perSeed.map { Dictionary($0.map { ($0.step, $0.value) }, uniquingKeysWith: { _, last in last }) }
        steps = sorted.map(Double.init)
        let values = sorted.map { step in lookups.map { $0[step]! } }
        mean = values.map(Statistics.mean)
        low = values.map { $0.min()! }
        high = values.map { $0.max()! }
    }

    /// A line at the mean, with a band when there is more than one seed.
    func series(name: String, seeds: Int) -> ChartSeries {
        ChartSeries(name: name, points: Array(zip(steps, mean)).map { (x: $0.0, y: $0.1) },
                    band: seeds > 1 ? steps.indices.map { (x: steps[$0], low: low[$0], high: high[$0]) } : [])
    }
}

extension ReportGroup {
    /// Reads every cached measurement of `requests` for every run; with `compute`, first measures and
    /// caches the missing ones of every run that has its final model, the way audits and sweeps do.
    public mutating func loadQuantised(_ requests: [QuantRequest], evaluator: any QuantisedEvaluator = SchemeEvaluator(), compute: Bool,
                                       announce: (String) -> Void = { _ in }) throws {
        for index in runs.indices {
            let directory = runs[index].directory, model = directory + "/" + Trainer.finalName
            for request in requests {
                if let cached = try QuantisedPerplexity.cached(request, in: directory) {
                    runs[index].quantised[request] = cached
                } else if compute && FilePath.exists(model) {
                    let measured = try evaluator.measure(checkpoint: model, request: request)
                    try measured.write(request, in: directory)
                    runs[index].quantised[request] = measured
                    announce("\(directory): \(request.label): ppl \(formatNumber(measured.floatPPL)) → \(formatNumber(measured.quantisedPPL))")
                }
            }
        }
    }
}
