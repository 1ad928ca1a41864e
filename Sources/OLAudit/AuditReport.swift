import Foundation
import OLCore
import OLMetrics
import OLReports
import OLRuns
import OLTraining

/// The audit's outputs in the output folder: `report.md`, `report.html` (figures inline, no network),
/// `report.json` (every number) and `figures/*.svg`. Every file is written atomically. This file holds the
/// content; `AuditReportFigures` draws, `AuditReportJSON` serialises and `ReportRenderer` renders.
public struct AuditReport {
    public var plan: AuditPlan
    public var results: [ClaimResult]
    public var outcomes: [String: RunOutcome]
    /// Wall time of this invocation (near zero when every run came from the cache).
    public var wallSeconds: Double

    /// The paper's headline OPT-125m numbers, quoted beside ours and never claimed as reproduced.
    public static let paperHeadline = [
        ("OP + SOAP", "14.71", "14.87"),
        ("Pre-Norm + Adam", "16.00", "63.4"),
    ]

    public init(plan: AuditPlan, results: [ClaimResult], outcomes: [String: RunOutcome], wallSeconds: Double) {
        (self.plan, self.results, self.outcomes, self.wallSeconds) = (plan, results, outcomes, wallSeconds)
    }

    /// Writes report.json, report.md, report.html and the figures as a whole (`ReportFolder`), under the
    /// output policy (`replace`: also over a user's files of those names).
    public func write(to directory: String, replace: Bool = false) throws {
        let figures = self.figures()
        let blocks = document(available: Set(figures.map(\.0)))
        let files = [("report.json", json().serialized(pretty: true) + "\n"), ("report.md", ReportRenderer.markdown(blocks)),
                     ("report.html", ReportRenderer.html(blocks, figures: Dictionary(uniqueKeysWithValues: figures),
                                                             verdicts: Set(Verdict.allCases.map(\.rawValue))))]
            + figures.map { ("figures/" + $0.0, $0.1) }
        try ReportFolder.write(files.map { ($0.0, Array($0.1.utf8)) }, to: directory, replace: replace)
    }

    /// Every file an audit of `plan` may write, for checking the output policy before any run starts.
    public static func possibleFiles(_ plan: AuditPlan) -> [String] {
        let figures = [summaryFigureName, studyFigureName] + plan.claims.flatMap { runs in
            ["arms", "trajectory", "scatter", "sites"].map { "\(runs.claim.id)-\($0).svg" }
        }
        return ["report.json", "report.md", "report.html"] + figures.map { "figures/" + $0 }
    }

    // MARK: Run lookups

    var finishedRecords: [(PlannedRun, RunRecord)] {
        plan.runs.compactMap { run in
            if case .finished(let record, _)? = outcomes[run.key] { return (run, record) }
            return nil
        }
    }

    func record(_ key: String) -> RunRecord? {
        if case .finished(let record, _)? = outcomes[key] { return record }
        return nil
    }

    func cachedCount() -> Int {
        outcomes.values.filter { if case .finished(_, true) = $0 { true } else { false } }.count
    }

    /// The sum of every finished run's own training wall time (`summary.json` `wall_time_s`), cached runs
    /// included: what the audit cost to compute, whenever it was computed.
    var runsWallSeconds: Double {
        finishedRecords.reduce(0) { $0 + ($1.1.summary["wall_time_s"]?.doubleValue ?? 0) }
    }

    // MARK: Document

    func document(available: Set<String>) -> [ReportBlock] {
        var blocks: [ReportBlock] = [.heading(1, "OutlierLab paper-claims audit")]
        blocks += introduction()
        blocks.append(.heading(2, "Summary"))
        if available.contains(Self.summaryFigureName) {
            blocks.append(.figure(Self.summaryFigureName, "Each claim's statistic (dot, coloured by verdict) with its 95 % t interval over seeds (whisker), the per-seed statistics (open circles) and the threshold it is judged against (dashed); every row has its own axis."))
        }
        for (heading, paper) in [("The paper's claims", true), ("Our extensions and controls", false)] {
            let members = results.filter { $0.claim.origin.isPaper == paper }
            guard !members.isEmpty else { continue }
            blocks.append(.heading(3, heading))
            blocks.append(.paragraph(paper
                ? "Holm–Bonferroni runs over these \(members.count) claims: the one-sided t-test p of each verdict (held at the 95 % interval is p < \(formatNumber(Judge.oneSidedAlpha))), adjusted for the family; **holds after Holm** needs the adjusted p below \(formatNumber(Judge.oneSidedAlpha)) too."
                : "Claims and controls we added to the paper's (why, for each, in its section); they are judged alike but kept out of the Holm family."))
            blocks.append(.table(["claim", paper ? "where" : "extends", "the paper says", "verdict", "statistic", "95 % interval", "needed", "seeds"] + (paper ? ["Holm"] : []),
                                 members.map { result in
                [result.claim.id, result.claim.paperLocation, result.claim.paperSays, result.judgement.verdict.rawValue, formatNumber(result.judgement.statistic),
                 Self.intervalText(result.judgement),
                 result.claim.predicate.statisticName + " " + result.claim.predicate.comparison.text, "\(result.seeds.count)"]
                    + (paper ? [Self.holmText(result.judgement)] : [])
            }))
        }
        blocks += learningRateSection()
        for result in results { blocks += claimSection(result, available: available) }
        blocks += quantisationStudySection(available: available)
        blocks += remediesSection()
        blocks.append(.heading(2, "Runs"))
        blocks.append(runsTable())
        return blocks
    }

    private func introduction() -> [ReportBlock] {
        let blas = BLASInfo.current
        var blocks: [ReportBlock] = [
            .paragraph("Scale **\(plan.scale.rawValue)**: \(plan.runs.count) runs (\(cachedCount()) from the cache); this invocation took \(NumberText.duration(wallSeconds)); the runs' own training wall times add up to \(NumberText.duration(runsWallSeconds)) (cached runs included); harness \(Harness.version), BLAS \(blas.coreName) with \(blas.threads) thread(s). Paper: He et al., *Understanding and Minimising Outlier Features in Transformer Training*, NeurIPS 2024."),
            .paragraph("Corpus: \(plan.corpus.description)." + (plan.corpus.fallbackNote.map { " **Fallback:** \($0)." } ?? "")),
            .paragraph("Verdicts come from the registry's predicates on the numbers below, with a 95 % Student-t interval of each claim's statistic over its seeds (the statistic computed on each seed alone; exact coverage for normal per-seed values, simulated at n = 5 in the tests; a percentile bootstrap over 3 seeds would be their min–max, ≈ 75 %): **held** when the interval lies wholly on the passing side of the threshold (and, for a rank correlation, its one-sided permutation p-value is below \(formatNumber(Judge.significance))); **not reproduced** when it lies wholly on the other side; **inconclusive** when it contains the threshold, fewer than \(Judge.minimumSeeds) seeds ran, a run failed or diverged, the statistic is undefined, or — for a quantised measurement — no run's quantised − float perplexity is resolved by its own 95 % interval over the evaluation windows (the effect is below the measurement's resolution); **untestable at this scale** when a precondition the claim declares fails before its predicate is read — its outlier-prone arm shows no outlier features at the stated level, or its positive control (the same model with a planted outlier channel of known size, under the claim's own quantisation protocol) does not resolve an effect of the claim's size; the verdict names the precondition and by how much it failed. Kurtosis is the paper's Eq. 1 (uncentred) in the verdicts; the official logger's centred form (`kurtosis_centred`, ≈ Eq. 1 − 1) is shown beside it. The max-median ratio is on raw rows (`mmr`). A verdict is about this CPU scale only."),
            .paragraph("Preregistration: arms, metrics and thresholds come from the claims registry with SHA-256 `\(plan.registrySHA256)`, fixed before the confirming seeds ran, which are derived from that digest (a changed registry confirms on fresh seeds); learning rates of best-lr arms are chosen on the calibration seed (\(plan.calibrationSeed)), never a confirming one."),
            .paragraph("Optimisers: AdamW β = (0.9, 0.999); SOAP, rotated AdaFactor, AdaFactor and random-rotation Adam on soap.py's documented β = (0.95, 0.95) with shampoo β 0.95, stated in every arm's config below. Every optimiser uses the same ε convention (`hf`: ε added to √v, bias correction in the step size) except the ε sweep, which uses torch.optim.AdamW's (ε added to the bias-corrected √v̂)."),
            .heading(2, "Paper headline (quoted, not reproduced)"),
            .table(["OPT-125m arm (paper)", "float ppl", "W8A8 ppl"], Self.paperHeadline.map { [$0.0, $0.1, $0.2] }),
            .paragraph("These are the paper's numbers at 125M parameters and billions of tokens. Our models are thousands of times smaller; the quantisation claims below compare what this scale can show."),
        ]
        if !plan.isResolved { blocks.append(.paragraph("**Incomplete plan:** \(plan.pendingRuns) confirming runs wait for their learning rates.")) }
        return blocks
    }

    private func learningRateSection() -> [ReportBlock] {
        guard !plan.families.isEmpty else { return [] }
        let rates = Array(Set(plan.families.flatMap { $0.calibration.map(\.rate) })).sorted()
        let rows = plan.families.map { family -> [String] in
            let losses = family.calibration.map { entry -> String in
                guard let loss = record(entry.key)?.summary["val_loss"]?.doubleValue else { return "—" }
                return entry.rate == family.chosen ? "**\(formatNumber(loss))**" : formatNumber(loss)
            }
            return [family.uses.joined(separator: "; ")] + losses + [family.chosen.map(formatNumber) ?? "—"]
        }
        return [
            .heading(2, "Learning-rate selection (calibration seed)"),
            .paragraph("Each best-lr arm family trains every rate of the sweep on the calibration seed; the lowest validation loss (bold) picks the rate its confirming seeds run at. Loss claims compare these best-lr losses."),
            .table(["arms"] + rates.map { "val loss at lr \(formatNumber($0))" } + ["chosen lr"], rows),
        ]
    }

    private func claimSection(_ result: ClaimResult, available: Set<String>) -> [ReportBlock] {
        let claim = result.claim
        var blocks: [ReportBlock] = [.heading(2, "\(claim.id): \(result.judgement.verdict.rawValue)")]
        blocks.append(.paragraph("**Claim.** \(claim.statement) (\(claim.paperLocation))"))
        blocks.append(.paragraph("**Paper says.** \(claim.paperSays)"))
        if case .extension(let why) = claim.origin { blocks.append(.paragraph("**Ours, not the paper's:** \(why).")) }
        guard result.judgement.verdict != .notRun else {
            blocks.append(.paragraph("**Not run:** \(result.judgement.reason)."))
            return blocks
        }
        let againstLabel = claim.against.map { " against " + $0.label } ?? ""
        blocks.append(.paragraph("**We measured** \(claim.metric.label)\(againstLabel) over seeds \(result.seeds.map(String.init).joined(separator: ", ")); predicate: \(claim.predicate.statisticName) \(claim.predicate.comparison.text)."))
        blocks.append(armsTable(result))
        if !result.judgement.preconditions.isEmpty {
            blocks.append(.paragraph("**Preconditions** (checked before the predicate, on the mean over seeds): "
                + result.judgement.preconditions.map { ($0.met ? "met — " : "**failed** — ") + $0.text }.joined(separator: "; ") + "."))
        }
        blocks.append(.paragraph("**Verdict: \(result.judgement.verdict.rawValue).** \(result.judgement.reason)."))
        for (name, caption) in claimFigures(result) where available.contains(name) { blocks.append(.figure(name, caption)) }
        return blocks
    }

    private func armsTable(_ result: ClaimResult) -> ReportBlock {
        let claim = result.claim
        let centred = claim.metric.centredKurtosis
        var headers = ["arm", "config", "mean [95 % t interval]", "per seed"]
        if claim.against != nil { headers.append("against (mean)") }
        if centred != nil { headers.append("kurtosis_centred (mean)") }
        headers.append("runs")
        return .table(headers, result.arms.map { arm in
            let spec = claim.arm(named: arm.name)
            var config = spec.map { JSONValue.object($0.reportedConfig).serialized() } ?? ""
            if spec?.bestLearningRate == true { config += " lr best (\(bestRateText(arm)))" }
            let interval = Statistics.tInterval(result.seeds.compactMap { arm.values[$0] })
            var row = [arm.name, config,
                       arm.values.isEmpty ? "—" : "\(formatNumber(arm.mean)) \(interval.map { "[\(formatNumber($0.lowerBound)), \(formatNumber($0.upperBound))]" } ?? "")",
                       result.seeds.map { seed in arm.values[seed].map(formatNumber) ?? "failed" }.joined(separator: ", ")]
            if claim.against != nil { row.append(formatNumber(arm.againstMean)) }
            if let centred {
                let values = result.seeds.compactMap { arm.runDirectories[$0] }.compactMap { record(String($0.dropFirst("runs/".count))) }
                    .compactMap { try? centred.value(in: $0) }
                row.append(formatNumber(Statistics.mean(values)))
            }
            row.append(result.seeds.compactMap { arm.runDirectories[$0] }.joined(separator: " "))
            return row
        })
    }

    private func bestRateText(_ arm: ArmResult) -> String {
        let rates = Set(arm.runDirectories.values.compactMap { record(String($0.dropFirst("runs/".count)))?.config["lr"]?.doubleValue })
        return rates.sorted().map(formatNumber).joined(separator: ", ")
    }

    private func runsTable() -> ReportBlock {
        .table(["run directory", "used by", "val loss", "steps", "wall time", "status"], plan.runs.map { run in
            let status: String, loss: String, wall: String
            switch outcomes[run.key] {
            case .finished(let record, let cached)?:
                status = cached ? "cached" : "trained"
                loss = formatNumber(record.summary["val_loss"]?.doubleValue ?? .nan)
                wall = record.summary["wall_time_s"]?.doubleValue.map { NumberText.duration($0) } ?? "—"
            case .failed(let message)?: status = "failed: " + message; loss = "—"; wall = "—"
            case nil: status = "not run"; loss = "—"; wall = "—"
            }
            return [run.relativeDirectory, run.uses.joined(separator: "; "), loss, "\(run.config.steps)", wall, status]
        })
    }

    /// "p 0.004 → 0.03: holds" (the one-sided p, Holm-adjusted, and whether the verdict survives), or "—".
    static func holmText(_ judgement: Judgement) -> String {
        guard let p = judgement.testP, let adjusted = judgement.holmP else { return "—" }
        let outcome = judgement.verdict == .held ? (judgement.holdsAfterHolm == true ? "holds" : "does not hold") : judgement.verdict.rawValue
        return "p \(formatNumber(p)) → \(formatNumber(adjusted)): \(outcome)"
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
}

extension MetricSpec {
    /// The same reduction of the official logger's centred kurtosis, for a metric on Eq. 1 kurtosis (nil
    /// otherwise): the report shows both forms.
    var centredKurtosis: MetricSpec? {
        guard case .series("kurtosis") = source else { return nil }
        return MetricSpec(source: .series("kurtosis_centred"), taps: taps, steps: steps, excess: false)
    }
}

