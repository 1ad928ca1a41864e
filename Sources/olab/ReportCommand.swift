import ArgumentParser
import OLCore
import OLReports

/// `olab report`: one HTML page and its Markdown twin comparing run directories, or a sweep's output
/// directory grouped by its axes, with quantised perplexity measured and cached beside each run.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compare runs (or a sweep) on one page: settings, loss, outlier metrics per tap, quantisation.",
        discussion: "Writes OUT/report.html (self-contained), OUT/report.md and OUT/figures/*.svg."
    )

    @Argument(help: "Run directories, or one sweep output directory (with results.jsonl and runs/).") var paths: [String]
    @Option(help: "Output directory (default: SWEEP/report for a sweep, RUN/report for one run, ./report otherwise).") var out: String?
    @Flag(help: "Show only cached quantised measurements; do not compute missing ones.") var cachedQuantOnly = false
    @Flag(help: "Replace files in the output folder that an earlier report did not write (a user's report.md).") var overwrite = false

    func run() throws {
        guard !paths.isEmpty else { throw OutlierLabError("give at least one run directory or a sweep directory") }
        let paths = self.paths.map { $0.hasSuffix("/") && $0.count > 1 ? String($0.dropLast()) : $0 }
        for path in paths where !FilePath.exists(path + "/metrics.jsonl") && !ReportGroup.isSweep(path) {
            throw OutlierLabError("\(path): neither a run directory (no metrics.jsonl) nor a sweep output (no results.jsonl and runs/)")
        }
        let directory = out.map { $0.hasSuffix("/") && $0.count > 1 ? String($0.dropLast()) : $0 } ?? (paths.count == 1 ? paths[0] + "/report" : "report")
        try ReportFolder.check(directory, files: RunReport.possibleFiles, replace: overwrite)
        var report: RunReport
        if paths.count == 1 && ReportGroup.isSweep(paths[0]) {
            let sweep = try ReportGroup.sweep(paths[0])
            guard !sweep.groups.isEmpty else { throw OutlierLabError("\(paths[0]): the sweep has no finished runs yet") }
            var notes = ["Sweep `\(paths[0])`: \(sweep.groups.count) groups over \(sweep.axes.map { "`\($0)`" }.joined(separator: " × ")), \(sweep.groups.map(\.runs.count).reduce(0, +)) finished runs."]
            if !sweep.missing.isEmpty { notes.append("Left out (not finished): " + sweep.missing.joined(separator: "; ") + ".") }
            report = RunReport(title: "OutlierLab sweep report", groups: sweep.groups, notes: notes)
        } else {
            if let sweep = paths.first(where: ReportGroup.isSweep), paths.count > 1 {
                throw OutlierLabError("\(sweep) is a sweep directory; report one sweep at a time, or run directories")
            }
            report = RunReport(title: "OutlierLab run report", groups: try ReportGroup.runs(paths))
        }
        for index in report.groups.indices {
            try report.groups[index].loadQuantised(RunReport.quantRequests, compute: !cachedQuantOnly) { writeStandardError($0 + "\n") }
        }
        try report.write(to: directory, replace: overwrite)
        print("report: \(directory)/report.html, \(directory)/report.md, \(directory)/figures/")
    }
}
