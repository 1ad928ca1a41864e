import ArgumentParser
import Foundation
import OLAudit
import OLCore
import OLRuns

/// `olab audit`: runs the paper-claims registry (OLAudit's Claims article) and writes report.md, report.json, report.html
/// and figures to the output folder, reusing finished runs from its cache.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Test the paper's claims on small models and write a report with verdicts and figures."
    )

    @Flag(help: "Full scale, the same as --scale full: every claim, at least eight seeds per arm (hours).") var full = false
    @Option(help: "quick (default, about a quarter of an hour on two cores), full (hours) or regime (12,500-step runs where outlier features grow, about 2 h 40 min on two cores).") var scale: String?
    @Option(help: "Output folder for the report and the run cache.") var out = "audit-out"
    @Option(help: "Corpus file or directory (default: the Python standard library on this machine, else the synthetic corpus).") var corpus: String?
    @Option(help: "Comma-separated claim ids to run (default: every claim of the scale).") var claims: String?
    @Option(help: "Claims registry JSON (default: the bundled claims.json).") var registry: String?
    @OptionGroup var options: PlanOptions

    /// Errors reach `Olab.main` like every other command's: one bounded, escaped line and exit status 2.
    func run() throws {
        let backend = try options.execution.resolved()
        let registry = try registry.map(ClaimRegistry.load) ?? ClaimRegistry.bundled()
        let scale = try resolvedScale()
        let selected = claims.map { $0.split(separator: ",").map { String($0).trimmed } }
        let corpus = try AuditCorpus.resolve(userPath: self.corpus, outDirectory: out)
        let plan = try AuditPlan(registry: registry, scale: scale, corpus: corpus, selected: selected)
        try ReportFolder.check(out, files: AuditReport.possibleFiles(plan), replace: options.overwrite)
        if options.dryRun {
            print(AuditReport.dryRunListing(plan, outDirectory: out))
            return
        }
        RunScheduler.printLine("[audit] \(scale.rawValue) scale: \(plan.runs.count) runs, estimated \(NumberText.duration(plan.estimatedSeconds)) before cache hits; corpus: \(corpus.description)")
        if let note = corpus.fallbackNote { RunScheduler.printLine("[audit] note: \(note)") }
        let started = ContinuousClock.now
        let runner = AuditRunner(plan: plan, outDirectory: out, backend: backend, executable: BackendOptions.executable)
        guard let outcomes = try runner.run(collectOnly: options.execution.collect) else { return }
        let results = AuditJudging.judge(plan: runner.plan, outcomes: outcomes)
        let report = AuditReport(plan: runner.plan, results: results, outcomes: outcomes,
                                 wallSeconds: Double((ContinuousClock.now - started).components.seconds))
        try report.write(to: out, replace: options.overwrite)
        for result in results {
            print("[audit] \(result.claim.id): \(result.judgement.verdict.rawValue) — \(result.judgement.reason)")
        }
        print("[audit] report: \(out)/report.md, \(out)/report.html, \(out)/report.json, figures in \(out)/figures")
    }
}

extension AuditCommand {
    /// `--scale`, with `--full` as its older spelling of `--scale full`.
    func resolvedScale() throws -> AuditScale {
        guard let name = scale else { return full ? .full : .quick }
        guard let parsed = AuditScale(rawValue: name) else {
            throw OutlierLabError("--scale must be one of \(AuditScale.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name.escapingControlCharacters)'")
        }
        if full && parsed != .full { throw OutlierLabError("--full and --scale \(parsed.rawValue) disagree; give one of them") }
        return parsed
    }
}

private extension String {
    var trimmed: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
