import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLReports
@testable import OLRuns

/// The fixture registry's plan with synthetic finished runs: Pre-LN's kurtosis highest, so its ratio to
/// OP holds on every seed, and a quantised measurement that grows with the run's level.
func syntheticAuditOutcomes() throws -> (ClaimRegistry, AuditPlan, [String: RunOutcome]) {
    let registry = try ClaimRegistry(json: try JSONValue.parse(fixtureRegistryJSON))
    let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
    var outcomes: [String: RunOutcome] = [:]
    for (index, run) in plan.runs.enumerated() {
        let level = Double(plan.runs.count - index)  // Pre-LN highest: its kurtosis ratio to OP holds on every seed
        let log: [JSONValue] = (0...2).map { k in
            .object([
                JSONMember("step", .int(Int64(4 * k))), JSONMember("loss", .double(3 - Double(k))), JSONMember("probe_loss", .double(3.1 - Double(k))),
                JSONMember("kurtosis", .array([.double(1), .double(level + Double(k)), .double(level * 2)])),
                JSONMember("mmr", .array([.double(3), .double(4 + level)])),
                JSONMember("feature_corr_rms", .array([.double(0.1 * level), .double(0.2)])),
            ])
        }
        let quant = QuantisedPerplexity(floatPPL: 5, quantisedPPL: 5 + level)
        outcomes[run.key] = .finished(RunRecord(directory: "runs/\(run.key)", log: log, summary: .object(["val_loss": .double(2)]),
                                                quantised: [QuantRequest(scheme: "w8a8-naive", bits: 4): quant]), cached: false)
    }
    return (registry, plan, outcomes)
}

@Suite("SVG figures and report files")
struct ReportTests {
    @Test("an SVG chart is well-formed XML with a frame, ticks, axis labels, a title and a legend entry per series")
    func svgStructure() {
        let chart = SVGChart(title: "kurtosis <per tap>", xLabel: "step", yLabel: "kurtosis", logY: true, series: [
            ChartSeries(name: "embedding", points: [(0, 1), (10, 2), (20, 40)]),
            ChartSeries(name: "block 1 & 2", points: [(0, 1.5), (20, 3)], style: .markers),
        ])
        let svg = chart.render()
        let (ok, collector) = ElementCollector.parse(svg)
        #expect(ok, "SVG does not parse as XML")
        #expect(collector.elements.first == "svg")
        for group in ["axes", "x-ticks", "y-ticks", "series", "legend", "title", "x-label", "y-label"] {
            #expect(collector.classes.contains(group), "missing \(group)")
        }
        #expect(collector.elements.filter { $0 == "polyline" }.count == 1)
        // Series 0 marks its three points with circles, series 1 its two with squares; one legend marker each.
        #expect(collector.elements.filter { $0 == "circle" }.count == 3 + 1)
        #expect(svg.components(separatedBy: "<rect").count - 1 == 2 + 2 + 1)  // background, frame; squares; legend
        #expect(svg.contains("block 1 &amp; 2") && svg.contains("kurtosis &lt;per tap&gt;"))
        #expect(svg.contains(">10<"), "log axis over 1…40 should label the decade 10")
    }

    @Test("log ticks inside one decade fall back to linear ticks, so the axis is never unlabelled")
    func narrowLogRange() {
        let ticks = SVGChart.logTicks(1.1, 1.9)
        #expect(!ticks.isEmpty && ticks.allSatisfy { $0 >= 1.1 && $0 <= 1.9 })
    }

    @Test("the report writer produces every file from synthetic results, atomically and with no temporary files left")
    func writesAllFiles() throws {
        let (registry, plan, outcomes) = try syntheticAuditOutcomes()
        let results = AuditJudging.judge(plan: plan, outcomes: outcomes)
        #expect(results[0].judgement.verdict == .held, "\(results[0].judgement.reason)")
        // A perfect rank correlation over three arms arises by chance for one ordering in six: not significant.
        #expect(results[1].judgement.verdict == .inconclusive && results[1].judgement.reason.contains("does not beat chance"), "\(results[1].judgement.reason)")
        let directory = try scratchDirectory("report")
        try AuditReport(plan: plan, results: results, outcomes: outcomes, wallSeconds: 1).write(to: directory)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(Set(files).isSuperset(of: ["report.md", "report.html", "report.json", "figures"]))
        #expect(!files.contains { $0.contains(".tmp-") })
        let figures = try FileManager.default.contentsOfDirectory(atPath: directory + "/figures")
        #expect(figures.contains("summary.svg"), "a summary figure of every claim against its threshold")
        #expect(figures.contains("op-lower-arms.svg") && figures.contains("op-lower-trajectory.svg"), "\(figures)")
        let correlation = try #require(results.dropFirst().first?.claim.id)
        #expect(figures.contains("\(correlation)-scatter.svg"), "a correlation claim shows the runs behind it")
        let summary = try FileBytes.readText(directory + "/figures/summary.svg")
        #expect(summary.components(separatedBy: "class=\"threshold\"").count - 1 == results.count, "one threshold line per claim")
        #expect(summary.components(separatedBy: "class=\"interval\"").count - 1 == results.filter { $0.judgement.interval != nil }.count)
        let arms = try FileBytes.readText(directory + "/figures/op-lower-arms.svg")
        #expect(arms.components(separatedBy: "class=\"estimate\"").count - 1 == results[0].arms.count, "every arm on the same axes")
        for figure in figures { #expect(ElementCollector.parse(try FileBytes.readText(directory + "/figures/" + figure)).ok, "\(figure)") }
        let html = try FileBytes.readText(directory + "/report.html")
        #expect(html.contains("<svg") && !html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!html.contains("<script") && !html.contains("src=\"http"))
        #expect(html.contains("<td class=\"verdict held\">held</td>") && html.contains("<td class=\"verdict inconclusive\">inconclusive</td>"),
                "verdicts are coloured in the summary table")
        let json = try JSONValue.parse(bytes: try FileBytes.read(directory + "/report.json"))
        #expect(json["claims"]?.arrayValue?.count == 2)
        #expect(json["claims"]?.arrayValue?.first?["verdict"]?.stringValue == "held")
        #expect(json["claims"]?.arrayValue?.first?["interval_95"]?.arrayValue?.count == 2, "every statistic has its interval")
        #expect(json["registry_sha256"]?.stringValue == registry.sha256 )
        #expect(try FileBytes.readText(directory + "/report.md").contains(registry.sha256), "the report prints the registry's SHA-256")
        let markdown = try FileBytes.readText(directory + "/report.md")
        #expect(markdown.contains("95 % interval"))
        #expect(markdown.contains("14.71") && markdown.contains("63.4") && markdown.contains("not reproduced"))
    }
}
