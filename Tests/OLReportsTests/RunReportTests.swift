import Foundation
import OLRunFixtures
import OLTestSupport
import OLTraining
import Testing
@testable import OLCore
@testable import OLReports
@testable import OLRuns

/// Counts measurements and returns a fixed result.
final class CountingEvaluator: QuantisedEvaluator, @unchecked Sendable {
    var calls = 0
    var schemes: Set<String> { Set(RunReport.quantRequests.map(\.scheme)) }
    func measure(checkpoint path: String, request: QuantRequest) throws -> QuantisedPerplexity {
        calls += 1
        return QuantisedPerplexity(floatPPL: 10, quantisedPPL: 10 + Double(request.bits))
    }
}

@Suite("olab report")
struct RunReportTests {
    @Test("the settings table lists exactly the keys whose values differ between runs")
    func settingsTableShowsOnlyDifferences() throws {
        let root = try scratchDirectory("report-diff")
        try writeFakeRun(root + "/a", config: fakeConfig, level: 1)
        try writeFakeRun(root + "/b", config: withConfig(fakeConfig, ["model.block": "op", "lr": .double(0.003)]), level: 2)
        let report = RunReport(title: "t", groups: try ReportGroup.runs([root + "/a", root + "/b"]))
        let blocks = report.configBlocks()
        guard case .table(let headers, let rows) = blocks.first else { Issue.record("no settings table"); return }
        // Columns are labelled by the settings that tell the runs apart, not by their directories.
        #expect(headers == ["setting", "lr=0.001 model.block=preLN", "lr=0.003 model.block=op"])
        #expect(rows == [["lr", "0.001", "0.003"], ["model.block", "preLN", "op"]])
        guard case .paragraph(let shared) = blocks.last else { Issue.record("no shared settings"); return }
        #expect(shared.contains("`model.width`=64") && shared.contains("`steps`=40") && !shared.contains("`lr`"))
    }

    @Test("a sweep is grouped by its axes, and each group's seeds become a mean line inside a min–max band")
    func sweepGroupsBySweptAxes() throws {
        let root = try scratchDirectory("report-sweep")
        try writeFakeSweep(root)
        #expect(ReportGroup.isSweep(root))
        let sweep = try ReportGroup.sweep(root)
        #expect(sweep.axes == ["block"] && sweep.groups.map(\.label) == ["block=preLN", "block=op"])
        #expect(sweep.groups.map(\.runs.count) == [3, 3] && sweep.missing.count == 1)
        let perSeed = try sweep.groups[0].runs.map { try $0.series("kurtosis", reducedBy: .tap(0)) }
        let summary = SeedSummary(perSeed)
        // Tap 0 at step 40 (k = 4): 1 + 4·level with level 2.0, 2.1, 2.2 over the seeds.
        #expect(abs(summary.low[4] - 9) < 1e-12 && abs(summary.high[4] - 9.8) < 1e-12 && abs(summary.mean[4] - 9.4) < 1e-12)
        let svg = RunReport(title: "t", groups: sweep.groups).figures().first { $0.0 == "kurtosis.svg" }!.2
        #expect(svg.components(separatedBy: "class=\"band\"").count - 1 == 2 * 3, "one band per group in each of the three tap panels")
        #expect(ElementCollector.parse(svg).ok)
    }

    @Test("missing quantised measurements are computed once and cached under the audit's file names")
    func quantisedMeasurementsAreCachedBesideTheRun() throws {
        let root = try scratchDirectory("report-quant")
        // A real two-step run: a report reads a run only when its final model is the model of its config.
        let config = try TrainingConfig(json: try JSONValue.parse("""
            {"width": 16, "layers": 1, "heads": 2, "seq": 8, "batch": 2, "steps": 2, "log_every": 1, "checkpoint_every": 0,
             "eval_windows": 2, "probe_batch": 2, "synthetic_bytes": 16384}
            """))
        _ = try Trainer(config: config, directory: root + "/run").run()
        let dropped = [QuantRequest(scheme: "w8a8-naive", bits: 4), QuantRequest(scheme: "w8a8-static", bits: 8)]
        for request in RunReport.quantRequests where !dropped.contains(request) {
            try QuantisedPerplexity(floatPPL: 8, quantisedPPL: 9).write(request, in: root + "/run")
        }
        let evaluator = CountingEvaluator()
        var group = try ReportGroup.runs([root + "/run"])[0]
        try group.loadQuantised(RunReport.quantRequests, evaluator: evaluator, compute: true)
        #expect(evaluator.calls == 2 && group.runs[0].quantised.count == RunReport.quantRequests.count)
        try group.loadQuantised(RunReport.quantRequests, evaluator: evaluator, compute: true)
        #expect(evaluator.calls == 2, "a cached measurement was computed again")
        let audit = try RunRecord.load(root + "/run", requests: Set(dropped))
        #expect(audit.quantised[dropped[0]] == QuantisedPerplexity(floatPPL: 10, quantisedPPL: 14))
    }

    @Test("series differ in dash pattern and marker shape as well as colour, so a grey print keeps them apart")
    func seriesAreDistinctWithoutColour() {
        let looks = (0..<5).map(SeriesLook.init(index:))
        #expect(Set(looks.map(\.dash)).count == 5 && Set(looks.map { "\($0.shape)" }).count == 5)
        let later = (5..<10).map(SeriesLook.init(index:))
        #expect(zip(looks, later).allSatisfy { $0.dash != $1.dash || "\($0.shape)" != "\($1.shape)" })
    }

    @Test("the automatic y axis is logarithmic only when positive values span two decades or more", arguments: [
        ([1.0, 50], false), ([1.0, 100], true), ([-1.0, 1000], false), ([0.01, 3], true),
    ])
    func automaticScale(values: [Double], logarithmic: Bool) {
        let chart = SVGChart(title: "t", xLabel: "x", yLabel: "y", yScale: .automatic,
                             series: [ChartSeries(name: "s", points: values.enumerated().map { (Double($0), $1) })])
        #expect(chart.logY == logarithmic)
    }

    @Test("the report writes HTML with every figure inline and no script or network reference, and a Markdown twin")
    func writesSelfContainedPages() throws {
        let root = try scratchDirectory("report-files")
        try writeFakeSweep(root)
        var groups = try ReportGroup.sweep(root).groups
        for index in groups.indices { try groups[index].loadQuantised(RunReport.quantRequests, compute: false) }
        try RunReport(title: "sweep", groups: groups).write(to: root + "/out")
        let html = try FileBytes.readText(root + "/out/report.html"), markdown = try FileBytes.readText(root + "/out/report.md")
        let figures = try FileManager.default.contentsOfDirectory(atPath: root + "/out/figures").sorted()
        #expect(figures == ["attention-entropy.svg", "kurtosis-centred.svg", "kurtosis-update.svg", "kurtosis.svg", "loss.svg", "mmr.svg"])
        #expect(html.components(separatedBy: "<svg").count - 1 == figures.count)
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))
        #expect(figures.allSatisfy { markdown.contains("(figures/\($0))") })
        #expect(markdown.contains("| w8a8-naive @ 4 bit |") && markdown.contains("| w8a8-naive @ 4 bit | 18.5 [18–19] (×2.3125) | 13.5 [13–14] (×1.6875) |"))
    }
}
