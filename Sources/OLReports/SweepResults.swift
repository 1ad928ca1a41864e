import OLCore
import OLRuns
import OLTraining

/// The table of a finished sweep: one row per run — its overrides, seed, losses, perplexities, the
/// quantised perplexities, and the layer-mean (`mean_…`) and peak (`peak_…`) outlier metrics of its
/// summary — written as `results.jsonl`, `results.csv` and a small `summary.html`. Runs with `eval_at`
/// add, after the final-point columns, `tokens@<step>`, `val_ppl@<step>` and `ppl_<scheme>_<bits>bit@<step>`
/// per evaluation step of any run (empty where a run has no such point). Wall-clock fields are
/// left out, so the files are identical whichever backend ran the sweep.
public struct SweepResults: Sendable {
    public var plan: SweepPlan
    public var columns: [String]
    public var rows: [[JSONValue]]

    /// Summary fields every row has, after the overrides and the seed.
    static let summaryColumns = ["steps", "final_loss", "val_loss", "val_ppl", "val_ppl_w8a8_naive", "w8a8_naive_ratio"]

    public init(plan: SweepPlan, runs: String) throws {
        self.plan = plan
        let axisNames = plan.grid.axes.map(\.name)
        var records: [(SweepRun, JSONValue, RunOutcome?)] = []
        var metricColumns: [String] = []
        for run in plan.runs {
            let spec = RunSpec(key: run.key, config: run.config, quantisations: plan.grid.quantisations, label: run.label)
            let outcome = try RunExecution.outcome(of: spec, runs: runs, cached: false)
            var summary = JSONValue.null
            if case .finished(let record, _)? = outcome {
                summary = record.summary
                for member in record.summary.objectMembers ?? [] where (member.key.hasPrefix("mean_") || member.key.hasPrefix("peak_")) && !metricColumns.contains(member.key) {
                    metricColumns.append(member.key)
                }
            }
            records.append((run, summary, outcome))
        }
        let quantColumns = plan.grid.quantisations.map { "ppl_\($0.scheme)_\($0.bits)bit" }
        var evaluationSteps = Set<Int>()
        for case (_, _, .finished(let record, _)?) in records { evaluationSteps.formUnion(record.evaluations.map(\.step)) }
        let steps = evaluationSteps.sorted()
        let pointColumns = steps.flatMap { step in ["tokens@\(step)", "val_ppl@\(step)"] + quantColumns.map { "\($0)@\(step)" } }
        columns = axisNames + ["seed"] + Self.summaryColumns + quantColumns + metricColumns + ["status", "run"] + pointColumns
        rows = records.map { run, summary, outcome in
            var row = run.overrides.map(\.value) + [.int(Int64(run.seed))]
            row += Self.summaryColumns.map { summary[$0] ?? .null }
            if case .finished(let record, _)? = outcome {
                row += plan.grid.quantisations.map { record.quantised[$0].map { .double($0.quantisedPPL) } ?? .null }
            } else {
                row += plan.grid.quantisations.map { _ in .null }
            }
            row += metricColumns.map { summary[$0] ?? .null }
            let status: String
            switch outcome {
            case .finished?: status = "finished"
            case .failed(let message)?: status = "failed: " + message
            case nil: status = "missing"
            }
            row += [.string(status), .string("runs/" + run.key)]
            var points: [Int: EvaluationPoint] = [:]
            if case .finished(let record, _)? = outcome { for point in record.evaluations { points[point.step] = point } }
            for step in steps {
                let point = points[step]
                row += [point.map { .int(Int64($0.tokens)) } ?? .null, point.map { .double($0.validationPPL) } ?? .null]
                row += plan.grid.quantisations.map { request in point?.quantised[request].map { .double($0.quantisedPPL) } ?? .null }
            }
            return row
        }
    }

    public var jsonLines: String {
        rows.map { row in JSONValue.object(zip(columns, row).map { JSONMember($0, $1) }).serialized() + "\n" }.joined()
    }

    /// RFC 4180 CSV: numbers in their shortest round-trip form, empty cells for missing values.
    public var csv: String {
        ([columns.map(Self.csvField)] + rows.map { $0.map { Self.csvField(SweepGrid.text($0)) } })
            .map { $0.joined(separator: ",") + "\n" }.joined()
    }

    /// A CSV field, quoted where needed; a cell a spreadsheet would run as a formula (text starting with
    /// `=`, `+`, `-`, `@`, a tab or a carriage return that is not a number) gets a leading `'`.
    static func csvField(_ text: String) -> String {
        let text = isFormula(text) ? "'" + text : text
        return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func isFormula(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return false }
        return Double(text) == nil || text.hasPrefix("=") || text.hasPrefix("@")
    }

    /// The files `write` puts in the sweep's folder.
    public static let fileNames = ["results.jsonl", "results.csv", "summary.html"]

    /// Writes results.jsonl, results.csv and summary.html into `directory` as a whole, under the output
    /// policy (`replace`: also over a user's files of those names).
    public func write(to directory: String, replace: Bool = false) throws {
        let (blocks, figures) = summaryPage()
        let html = ReportRenderer.html(blocks, figures: figures, title: "OutlierLab sweep")
        try ReportFolder.write(zip(Self.fileNames, [jsonLines, csv, html]).map { ($0, Array($1.utf8)) }, to: directory, replace: replace)
    }

    /// The summary page: the grid, one figure per headline value against the first axis (one series per
    /// combination of the other axes, seed mean with min–max bars as separate marker series), and the table.
    func summaryPage() -> ([ReportBlock], [String: String]) {
        var blocks: [ReportBlock] = [.heading(1, "OutlierLab sweep")]
        let axes = plan.grid.axes.map { "`\($0.name)` ∈ {\($0.values.map(SweepGrid.text).joined(separator: ", "))}" }
        blocks.append(.paragraph("\(plan.runs.count) runs: \(axes.joined(separator: " × ")) × seeds {\(plan.grid.seeds.map(String.init).joined(separator: ", "))}."))
        var figures: [String: String] = [:]
        let first = plan.grid.axes[0]
        let numericX = first.values.allSatisfy { $0.doubleValue != nil }
        for metric in ["val_loss", "mean_kurtosis", "peak_kurtosis", "w8a8_naive_ratio"] {
            guard let column = columns.firstIndex(of: metric) else { continue }
            var groups: [(name: String, points: [(x: Double, y: Double)])] = []
            for row in rows {
                guard let y = row[column].doubleValue, y.isFinite else { continue }
                let x = numericX ? row[0].doubleValue! : Double(first.values.firstIndex(of: row[0]) ?? 0)
                let name = zip(plan.grid.axes.dropFirst(), row.dropFirst()).map { "\($0.name)=\(SweepGrid.text($1))" }.joined(separator: " ")
                if let index = groups.firstIndex(where: { $0.name == name }) { groups[index].points.append((x, y)) } else { groups.append((name, [(x, y)])) }
            }
            guard !groups.isEmpty else { continue }
            let series = groups.map { group in ChartSeries(name: group.name.isEmpty ? metric : group.name, points: group.points, style: .markers) }
            let xLabel = first.name + (numericX ? "" : " (" + first.values.map(SweepGrid.text).joined(separator: ", ") + ")")
            let name = "sweep-\(metric).svg"
            figures[name] = SVGChart(title: "\(metric) by \(first.name)", xLabel: xLabel, yLabel: metric, series: series).render()
            blocks.append(.figure(name, "\(metric) of every run against \(first.name), one marker per seed"))
        }
        let shown = columns.filter { !$0.hasPrefix("mean_") && !$0.hasPrefix("peak_") || ["mean_kurtosis", "peak_kurtosis", "mean_mmr"].contains($0) }
        let indices = shown.compactMap { columns.firstIndex(of: $0) }
        blocks.append(.table(shown, rows.map { row in indices.map { Self.cell(row[$0]) } }))
        return (blocks, figures)
    }

    static func cell(_ value: JSONValue) -> String {
        if case .double(let x) = value { return formatNumber(x) }
        return SweepGrid.text(value)
    }
}
