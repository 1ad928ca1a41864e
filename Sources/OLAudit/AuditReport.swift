import Foundation
import OLCore
import OLTraining

/// A block of the report, rendered both as Markdown and as HTML so the two never disagree.
enum ReportBlock {
    case heading(Int, String)
    case paragraph(String)
    case table([String], [[String]])
    /// An SVG figure: file name under `figures/`, caption.
    case figure(String, String)
}

/// The audit's outputs in the output folder: `report.md`, `report.html` (figures inline, no network),
/// `report.json` (every number) and `figures/*.svg`. Every file is written atomically.
public struct AuditReport {
    public var plan: AuditPlan
    public var results: [ClaimResult]
    public var outcomes: [String: RunOutcome]
    public var wallSeconds: Double

    /// The paper's headline OPT-125m numbers, quoted beside ours and never claimed as reproduced.
    public static let paperHeadline = [
        ("OP + SOAP", "14.71", "14.87"),
        ("Pre-Norm + Adam", "16.00", "63.4"),
    ]

    public init(plan: AuditPlan, results: [ClaimResult], outcomes: [String: RunOutcome], wallSeconds: Double) {
        self.plan = plan
        self.results = results
        self.outcomes = outcomes
        self.wallSeconds = wallSeconds
    }

    /// Writes every file; figures first, so a report never links a figure that is not there.
    public func write(to directory: String) throws {
        try FilePath.makeDirectories(directory + "/figures")
        let figures = self.figures()
        for (name, svg) in figures { try AtomicFile.write(svg, to: directory + "/figures/" + name) }
        let blocks = document(available: Set(figures.map(\.0)))
        try AtomicFile.write(json().serialized(pretty: true) + "\n", to: directory + "/report.json")
        try AtomicFile.write(Self.markdown(blocks), to: directory + "/report.md")
        try AtomicFile.write(Self.html(blocks, figures: Dictionary(uniqueKeysWithValues: figures)), to: directory + "/report.html")
    }

    // MARK: Content

    private var finishedRecords: [(PlannedRun, RunRecord)] {
        plan.runs.compactMap { run in
            if case .finished(let record, _)? = outcomes[run.key] { return (run, record) }
            return nil
        }
    }

    private func cachedCount() -> Int {
        outcomes.values.filter { if case .finished(_, true) = $0 { true } else { false } }.count
    }

    func document(available: Set<String>) -> [ReportBlock] {
        var blocks: [ReportBlock] = [.heading(1, "OutlierLab paper-claims audit")]
        let blas = BLASInfo.current
        blocks.append(.paragraph("Scale **\(plan.scale.rawValue)**: \(plan.runs.count) runs (\(cachedCount()) from the cache), wall time \(duration(wallSeconds)), harness \(Harness.version), BLAS \(blas.coreName) with \(blas.threads) thread(s). Paper: He et al., *Understanding and Minimising Outlier Features in Transformer Training*, NeurIPS 2024."))
        blocks.append(.paragraph("Corpus: \(plan.corpus.description)." + (plan.corpus.fallbackNote.map { " **Fallback:** \($0)." } ?? "")))
        blocks.append(.paragraph("Verdicts come from the registry's predicates on the numbers below, with a 95 % bootstrap interval of each statistic over seeds (\(Judge.resamples) resamples): **held** when the interval lies wholly on the passing side of the threshold (and, for a rank correlation, its one-sided permutation p-value is below \(formatNumber(Judge.significance))); **not reproduced** when it lies wholly on the other side; **inconclusive** when it contains the threshold, fewer than \(Judge.minimumSeeds) seeds ran, a run failed or diverged, or the statistic is undefined. Kurtosis is SPEC Eq. 1 (uncentred) unless a metric says `kurtosis_centred`, and the max-median ratio is on raw rows (`mmr`) unless it says `mmr_centred` (rows centred across the width, as the official logger computes it). A verdict is about this CPU scale only."))
        blocks.append(.paragraph("Preregistration: arms, metrics and thresholds come from the claims registry with SHA-256 `\(plan.registrySHA256)`, fixed before the confirming seeds ran."))
        blocks.append(.heading(2, "Paper headline (quoted, not reproduced)"))
        blocks.append(.table(["OPT-125m arm (paper)", "float ppl", "W8A8 ppl"], Self.paperHeadline.map { [$0.0, $0.1, $0.2] }))
        blocks.append(.paragraph("These are the paper's numbers at 125M parameters and billions of tokens. Our models are thousands of times smaller; the quantisation claims below compare what this scale can show."))
        blocks.append(.heading(2, "Summary"))
        blocks.append(.table(["claim", "verdict", "statistic", "95 % interval", "needed", "seeds"], results.map { result in
            [result.claim.id, result.judgement.verdict.rawValue, formatNumber(result.judgement.statistic),
             Self.intervalText(result.judgement) ,
             result.claim.predicate.statisticName + " " + result.claim.predicate.comparison.text, "\(result.seeds.count)"]
        }))
        for result in results { blocks += claimSection(result, available: available) }
        blocks += [.heading(2, "Across runs")]
        for name in ["signal-vs-kurtosis.svg"] + quantRequests().map(Self.quantFigureName) where available.contains(name) {
            blocks.append(.figure(name, name == "signal-vs-kurtosis.svg"
                ? "Signal propagation (feature–feature correlation RMS, layer mean) against kurtosis (layer mean), final step, every run."
                : "Quantisation degradation against kurtosis (layer mean, final step), every run with that measurement."))
        }
        blocks.append(.heading(2, "Runs"))
        blocks.append(.table(["run directory", "used by", "val loss", "steps", "status"], plan.runs.map { run in
            let status: String, loss: String
            switch outcomes[run.key] {
            case .finished(let record, let cached)?:
                status = cached ? "cached" : "trained"
                loss = formatNumber(record.summary["val_loss"]?.doubleValue ?? .nan)
            case .failed(let message)?: status = "failed: " + message; loss = "—"
            case nil: status = "not run"; loss = "—"
            }
            return [run.relativeDirectory, run.uses.joined(separator: "; "), loss, "\(run.config.steps)", status]
        }))
        return blocks
    }

    private func claimSection(_ result: ClaimResult, available: Set<String>) -> [ReportBlock] {
        let claim = result.claim
        var blocks: [ReportBlock] = [.heading(2, "\(claim.id): \(result.judgement.verdict.rawValue)")]
        blocks.append(.paragraph("**Claim.** \(claim.statement) (\(claim.paperLocation))"))
        blocks.append(.paragraph("**Paper says.** \(claim.paperSays)"))
        guard result.judgement.verdict != .notRun else {
            blocks.append(.paragraph("**Not run:** \(result.judgement.reason)."))
            return blocks
        }
        let againstLabel = claim.against.map { " against " + $0.label } ?? ""
        blocks.append(.paragraph("**We measured** \(claim.metric.label)\(againstLabel) over seeds \(result.seeds.map(String.init).joined(separator: ", ")); predicate: \(claim.predicate.statisticName) \(claim.predicate.comparison.text)."))
        var headers = ["arm", "config", "mean ± sd", "per seed"]
        if claim.against != nil { headers.append("against (mean)") }
        headers.append("runs")
        blocks.append(.table(headers, result.arms.map { arm in
            let spec = claim.arm(named: arm.name)
            var row = [arm.name, spec.map { JSONValue.object($0.config).serialized() } ?? "",
                       arm.values.isEmpty ? "—" : "\(formatNumber(arm.mean)) ± \(formatNumber(arm.standardDeviation))",
                       result.seeds.map { seed in arm.values[seed].map(formatNumber) ?? "failed" }.joined(separator: ", ")]
            if claim.against != nil { row.append(formatNumber(arm.againstMean)) }
            row.append(result.seeds.compactMap { arm.runDirectories[$0] }.joined(separator: " "))
            return row
        }))
        blocks.append(.paragraph("**Verdict: \(result.judgement.verdict.rawValue).** \(result.judgement.reason)."))
        let seed = result.seeds.first ?? 0
        for (index, arm) in result.arms.enumerated() where available.contains(Self.kurtosisFigureName(claim: claim.id, arm: index)) {
            blocks.append(.figure(Self.kurtosisFigureName(claim: claim.id, arm: index), "\(arm.name): kurtosis (Eq. 1) per tap against step, seed \(seed)."))
        }
        if available.contains("\(claim.id)-mmr.svg") {
            blocks.append(.figure("\(claim.id)-mmr.svg", "Max-median ratio on raw rows (`mmr`, not the centred `mmr_centred`; layer mean) against step per arm, seed \(seed)."))
        }
        if available.contains("\(claim.id)-loss.svg") {
            blocks.append(.figure("\(claim.id)-loss.svg", "Probe loss against step per arm, seed \(seed)."))
        }
        return blocks
    }

    static func kurtosisFigureName(claim: String, arm: Int) -> String { "\(claim)-kurtosis-arm\(arm + 1).svg" }

    // MARK: Figures

    func quantRequests() -> [QuantRequest] {
        Array(Set(plan.runs.flatMap(\.quantisations))).sorted()
    }

    static func quantFigureName(_ request: QuantRequest) -> String { "quant-vs-kurtosis-\(request.scheme)-\(request.bits)bit.svg" }

    /// Every figure as (file name, SVG text).
    func figures() -> [(String, String)] {
        var figures: [(String, String)] = []
        let records = Dictionary(uniqueKeysWithValues: finishedRecords.map { ($0.0.key, $0.1) })
        for result in results where result.judgement.verdict != .notRun {
            guard let seed = result.seeds.first else { continue }
            let id = result.claim.id
            var mmr: [ChartSeries] = [], loss: [ChartSeries] = []
            for (armIndex, arm) in result.arms.enumerated() {
                guard let directory = arm.runDirectories[seed], let record = records[String(directory.dropFirst("runs/".count))] else { continue }
                let kurtosis = (0..<record.tapCount("kurtosis")).compactMap { tap in
                    (try? record.series("kurtosis", reducedBy: .tap(tap))).map { points in
                        ChartSeries(name: tap == 0 ? "embedding" : "block \(tap)", points: points.map { (Double($0.step), $0.value) })
                    }
                }
                if !kurtosis.isEmpty {
                    figures.append((Self.kurtosisFigureName(claim: id, arm: armIndex), SVGChart(
                        title: "\(id): \(arm.name), kurtosis per tap", xLabel: "step", yLabel: "kurtosis (Eq. 1)", logY: true, series: kurtosis).render()))
                }
                if let points = try? record.series("mmr", reducedBy: .mean) {
                    mmr.append(ChartSeries(name: arm.name, points: points.map { (Double($0.step), $0.value) }))
                }
                loss.append(ChartSeries(name: arm.name, points: record.scalar("probe_loss").map { (Double($0.step), $0.value) }))
            }
            if !mmr.isEmpty {
                figures.append(("\(id)-mmr.svg", SVGChart(title: "\(id): max-median ratio", xLabel: "step", yLabel: "MMR, raw rows (layer mean)", series: mmr).render()))
            }
            if !loss.isEmpty {
                figures.append(("\(id)-loss.svg", SVGChart(title: "\(id): probe loss", xLabel: "step", yLabel: "loss (nats/byte)", series: loss).render()))
            }
        }
        let kurtosisMetric = MetricSpec(source: .series("kurtosis"), taps: .mean, steps: .final)
        let signalMetric = MetricSpec(source: .series("feature_corr_rms"), taps: .mean, steps: .final)
        func grouped(_ y: (RunRecord) -> Double?) -> [ChartSeries] {
            var groups: [(String, [(x: Double, y: Double)])] = []
            for (run, record) in finishedRecords {
                guard let x = try? kurtosisMetric.value(in: record), let value = y(record) else { continue }
                let name = Self.runLabel(run)
                if let index = groups.firstIndex(where: { $0.0 == name }) { groups[index].1.append((x, value)) } else { groups.append((name, [(x, value)])) }
            }
            return groups.map { ChartSeries(name: $0.0, points: $0.1, style: .markers) }
        }
        let signal = grouped { try? signalMetric.value(in: $0) }
        if !signal.isEmpty {
            figures.append(("signal-vs-kurtosis.svg", SVGChart(title: "Signal propagation vs kurtosis", xLabel: "kurtosis (layer mean, final)",
                                                               yLabel: "feature corr RMS (layer mean)", series: signal).render()))
        }
        for request in quantRequests() {
            let points = grouped { $0.quantised[request]?.value(.deltaPPL) }
            if !points.isEmpty {
                figures.append((Self.quantFigureName(request), SVGChart(title: "\(request.label): Δppl vs kurtosis", xLabel: "kurtosis (layer mean, final)",
                                                                        yLabel: "quantised − float ppl", series: points).render()))
            }
        }
        return figures
    }

    /// "[low, high]" (with the permutation p-value of a correlation), or "—" without an interval.
    static func intervalText(_ judgement: Judgement) -> String {
        guard let interval = judgement.interval else { return "—" }
        let p = judgement.pValue.map { ", p \(formatNumber($0))" } ?? ""
        return "[\(formatNumber(interval.lowerBound)), \(formatNumber(interval.upperBound))]\(p)"
    }

    /// Block, optimiser and the hyper-parameters that distinguish audit arms, e.g. "preLN adamw lr 0.003 ε 1e-08".
    static func runLabel(_ run: PlannedRun) -> String {
        let c = run.config
        var parts = [c.model.block.rawValue, c.optimizer]
        if let lr = c.lr { parts.append("lr \(formatNumber(lr))") }
        if let eps = c.eps { parts.append("ε \(formatNumber(eps))") }
        if let beta2 = c.beta2 { parts.append("β₂ \(formatNumber(beta2))") }
        return parts.joined(separator: " ")
    }

    // MARK: Renderers

    static func markdown(_ blocks: [ReportBlock]) -> String {
        var out = ""
        for block in blocks {
            switch block {
            case .heading(let level, let text): out += String(repeating: "#", count: level) + " " + text + "\n\n"
            case .paragraph(let text): out += text + "\n\n"
            case .table(let headers, let rows):
                func row(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
                out += row(headers) + row(headers.map { _ in "---" }) + rows.map(row).joined() + "\n"
            case .figure(let name, let caption): out += "![\(caption)](figures/\(name))\n\n*\(caption)*\n\n"
            }
        }
        return out
    }

    static func html(_ blocks: [ReportBlock], figures: [String: String], title: String = "OutlierLab paper-claims audit") -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escapeXML(title))</title>\n<style>td.verdict{font-weight:bold}td.held{background:#d8f0d8}td.not-reproduced{background:#f6d5d5}td.inconclusive{background:#f7ecc8}td.not-run{background:#e8e8e8}body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3}figure{margin:1em 0}svg{max-width:100%;height:auto}code{background:#f3f3f3}</style></head><body>\n"
        for block in blocks {
            switch block {
            case .heading(let level, let text): out += "<h\(level)>\(inline(text))</h\(level)>\n"
            case .paragraph(let text): out += "<p>\(inline(text))</p>\n"
            case .table(let headers, let rows):
                out += "<table><tr>" + headers.map { "<th>\(inline($0))</th>" }.joined() + "</tr>\n"
                out += rows.map { "<tr>" + $0.map(cell).joined() + "</tr>\n" }.joined() + "</table>\n"
            case .figure(let name, let caption):
                let svg = figures[name] ?? ""
                out += "<figure>\(svg)<figcaption>\(inline(caption))</figcaption></figure>\n"
            }
        }
        return out + "</body></html>\n"
    }

    /// A table cell; a verdict is coloured (green held, red not reproduced, amber inconclusive, grey not
    /// run) and keeps its word, so it reads the same printed in grey.
    static func cell(_ text: String) -> String {
        guard let verdict = Verdict(rawValue: text) else { return "<td>\(inline(text))</td>" }
        return "<td class=\"verdict \(verdict.rawValue.replacingOccurrences(of: " ", with: "-"))\">\(inline(text))</td>"
    }

    /// Escaped text with Markdown's **bold**, *italic* and `code` spans turned into HTML.
    static func inline(_ text: String) -> String {
        var out = escapeXML(text)
        for (marker, tag) in [("**", "strong"), ("*", "em"), ("`", "code")] {
            var parts = out.components(separatedBy: marker)
            guard parts.count >= 3 else { continue }
            var rebuilt = parts.removeFirst()
            var open = true
            for part in parts {
                rebuilt += (open ? "<\(tag)>" : "</\(tag)>") + part
                open.toggle()
            }
            if !open { rebuilt += "</\(tag)>" }
            out = rebuilt
        }
        return out
    }

    // MARK: JSON and dry run

    func json() -> JSONValue {
        func number(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .null }
        func perSeed(_ values: [UInt64: Double]) -> JSONValue {
            .object(values.keys.sorted().map { JSONMember(String($0), number(values[$0]!)) })
        }
        let claims: [JSONValue] = results.map { result in
            let claim = result.claim
            return .object([
                JSONMember("id", .string(claim.id)),
                JSONMember("statement", .string(claim.statement)),
                JSONMember("paper", .string(claim.paperLocation)),
                JSONMember("paper_says", .string(claim.paperSays)),
                JSONMember("metric", .string(claim.metric.label)),
                JSONMember("against", claim.against.map { .string($0.label) } ?? .null),
                JSONMember("predicate", .object([
                    JSONMember("statistic", .string(claim.predicate.statisticName)),
                    JSONMember("comparison", .string(claim.predicate.comparison.text)),
                    JSONMember("threshold", .double(claim.predicate.comparison.threshold)),
                ])),
                JSONMember("verdict", .string(result.judgement.verdict.rawValue)),
                JSONMember("reason", .string(result.judgement.reason)),
                JSONMember("statistic", number(result.judgement.statistic)),
                JSONMember("seed_statistics", .array(result.judgement.seedStatistics.map(number))),
                JSONMember("interval_95", result.judgement.interval.map { .array([number($0.lowerBound), number($0.upperBound)]) } ?? .null),
                JSONMember("permutation_p", result.judgement.pValue.map(number) ?? .null),
                JSONMember("seeds", .array(result.seeds.map { .int(Int64($0)) })),
                JSONMember("arms", .array(result.arms.map { arm in
                    .object([
                        JSONMember("name", .string(arm.name)),
                        JSONMember("config", .object(claim.arm(named: arm.name)?.config ?? [])),
                        JSONMember("values", perSeed(arm.values)),
                        JSONMember("mean", number(arm.mean)),
                        JSONMember("sd", number(arm.standardDeviation)),
                        JSONMember("against_values", perSeed(arm.againstValues)),
                        JSONMember("runs", .object(arm.runDirectories.keys.sorted().map { JSONMember(String($0), .string(arm.runDirectories[$0]!)) })),
                        JSONMember("failures", .array(arm.failures.map(JSONValue.string))),
                    ])
                })),
            ])
        }
        let runs: [JSONValue] = plan.runs.map { run in
            var members = [
                JSONMember("key", .string(run.key)),
                JSONMember("directory", .string(run.relativeDirectory)),
                JSONMember("uses", .array(run.uses.map(JSONValue.string))),
                JSONMember("estimated_s", .double(run.estimatedSeconds)),
                JSONMember("config", run.config.json),
            ]
            switch outcomes[run.key] {
            case .finished(let record, let cached)?:
                members.append(JSONMember("status", .string(cached ? "cached" : "trained")))
                members.append(JSONMember("summary", record.summary))
                members.append(JSONMember("quantised", .array(record.quantised.keys.sorted().map { request in
                    let q = record.quantised[request]!
                    return .object(["scheme": .string(request.scheme), "bits": .int(Int64(request.bits)),
                                    "float_ppl": number(q.floatPPL), "quantised_ppl": number(q.quantisedPPL)])
                })))
            case .failed(let message)?:
                members.append(JSONMember("status", .string("failed")))
                members.append(JSONMember("error", .string(message)))
            case nil: members.append(JSONMember("status", .string("not run")))
            }
            return .object(members)
        }
        let blas = BLASInfo.current
        return .object([
            JSONMember("harness_version", .string(Harness.version)),
            JSONMember("scale", .string(plan.scale.rawValue)),
            JSONMember("corpus", .object([
                JSONMember("path", .string(plan.corpus.path)),
                JSONMember("sha256", .string(plan.corpus.fingerprint)),
                JSONMember("description", .string(plan.corpus.description)),
                JSONMember("fallback", plan.corpus.fallbackNote.map(JSONValue.string) ?? .null),
            ])),
            JSONMember("blas", blas.json),
            JSONMember("registry_sha256", .string(plan.registrySHA256)),
            JSONMember("wall_time_s", .double(wallSeconds)),
            JSONMember("estimated_s", .double(plan.estimatedSeconds)),
            JSONMember("paper_headline_opt125m", .array(Self.paperHeadline.map {
                .object(["arm": .string($0.0), "float_ppl": .string($0.1), "w8a8_ppl": .string($0.2), "status": "quoted from the paper, not reproduced"])
            })),
            JSONMember("claims", .array(claims)),
            JSONMember("runs", .array(runs)),
        ])
    }

    /// What `--dry-run` prints: every run with its uses and estimated cost, cache hits marked.
    public static func dryRunListing(_ plan: AuditPlan, outDirectory: String) -> String {
        var lines = ["audit plan (\(plan.scale.rawValue) scale), corpus: \(plan.corpus.description)"]
        if let note = plan.corpus.fallbackNote { lines.append("note: \(note)") }
        var pending = 0.0
        for (index, run) in plan.runs.enumerated() {
            let cached = FilePath.exists(outDirectory + "/" + run.relativeDirectory + "/summary.json")
            if !cached { pending += run.estimatedSeconds }
            let c = run.config
            lines.append("\(index + 1). \(run.key.prefix(12)) \(runLabel(run)) d=\(c.model.width) L=\(c.model.layers) T=\(c.model.seq) B=\(c.batch) steps=\(c.steps) seed=\(c.seed) ~\(duration(run.estimatedSeconds))\(cached ? " (cached)" : "")")
            lines.append("     " + run.uses.joined(separator: "; ") + (run.quantisations.isEmpty ? "" : "; then " + run.quantisations.sorted().map(\.label).joined(separator: ", ")))
        }
        for claim in plan.claims {
            if let reason = plan.skipped[claim.claim.id] { lines.append("skipped \(claim.claim.id): \(reason)") }
        }
        lines.append("\(plan.runs.count) runs, estimated \(duration(plan.estimatedSeconds)) in total, \(duration(pending)) not yet cached")
        return lines.joined(separator: "\n")
    }
}
