import Foundation
import OLRunFixtures
import OLTestSupport
import OLTraining
import Testing
@testable import OLCore
@testable import OLReports
@testable import OLRuns

/// `olab report` for the outlier-regime study: labels that name the settings, defaults shown as the value
/// used, tick labels that tell ticks apart, and the figures of where outliers live and of quantisation
/// measured along the way.
@Suite("olab report for the outlier-regime study")
struct RunReportRegimeTests {
    static func scratch(_ name: String) throws -> String {
        try scratchDirectory("report-regime-\(name)")
    }

    @Test("runs are labelled by the settings that differ between them, not by their directories")
    func labelsNameTheSettings() throws {
        let root = try Self.scratch("labels")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = ["4a3500cb59c7", "f50cd18bd540"].map { root + "/runs/" + $0 }
        try writeFakeRun(directories[0], config: withConfig(fakeConfig, ["lr": .double(0.01)]), level: 1)
        try writeFakeRun(directories[1], config: withConfig(fakeConfig, ["lr": .double(0.003), "model.block": "op"]), level: 1)
        let groups = try ReportGroup.runs(directories)
        #expect(groups.map(\.label) == ["lr=0.01 model.block=preLN", "lr=0.003 model.block=op"])
        // Identical settings cannot be told apart by them: the directories' tails name the runs.
        #expect(ReportGroup.settingLabels([["lr": .double(0.01)], ["lr": .double(0.01)]]) == nil)
    }

    @Test("a setting left at its default shows the value the run used, or unused where it does not apply")
    func defaultsShowTheirValue() throws {
        let root = try Self.scratch("defaults")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var config = TrainingConfig()
        config.model.block = .preLN
        try AtomicFile.write(config.json.serialized(pretty: true), to: root + "/config.json")
        let flat = try ReportGroup.config(of: root)
        let rate = try #require(config.optimizerConfig().hyperParameters.first { $0.0 == "lr" }?.1)
        #expect(flat["lr"] == .string(formatNumber(rate) + " (default)"), "\(String(describing: flat["lr"]))")
        #expect(flat["beta_init"] == .string("unused"))  // a Pre-LN block has no branch weight
        #expect(flat["final_norm"] == .string("true (default)"))
        #expect(!flat.values.contains(.null), "no setting may be shown as null")

        config.model.block = .op
        try AtomicFile.write(config.json.serialized(pretty: true), to: root + "/config.json")
        let op = try ReportGroup.config(of: root)
        #expect(op["beta_init"] == .string(formatNumber(1 / Double(config.model.layers).squareRoot()) + " (default)"))
        #expect(op["final_norm"] == .string("false (default)"))
    }

    @Test("tick labels get the digits it takes to tell the ticks apart", arguments: [
        [2.5485, 2.549, 2.5495, 2.55], [0, 0.5, 1, 1.5], [1e-6, 2e-6, 3e-6], [100_000, 100_001, 100_002],
    ])
    func distinctTickLabels(ticks: [Double]) {
        let labels = SVGChart.tickLabels(ticks)
        #expect(Set(labels).count == ticks.count, "\(labels)")
        #expect(zip(labels, ticks).allSatisfy { abs((Double($0) ?? .nan) - $1) <= 1e-9 * max(1, abs($1)) }, "labels must read as their ticks: \(labels)")
    }

    @Test("quantisation measured along the way is drawn against training tokens, the end point included")
    func alongTheWayFigure() throws {
        let root = try Self.scratch("along")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config: [JSONMember] = fakeConfig.filter { $0.key != "steps" } + [JSONMember("steps", 40), JSONMember("batch", 4), JSONMember("seq", 8)]
        try writeFakeRun(root + "/with", config: config, level: 1)
        try writeFakeRun(root + "/without", config: withConfig(config, ["lr": .double(0.01)]), level: 1)
        let request = QuantRequest(scheme: "w8a8-static", bits: 8)
        let points = [10, 20].map { step in
            EvaluationPoint(step: step, tokens: step * 32, validationLoss: 2, validationPPL: 8,
                            quantised: [request: QuantisedPerplexity(floatPPL: 8, quantisedPPL: 8 + Double(step) / 10)])
        }
        try EvaluationPoint.write(points, in: root + "/with")
        let report = RunReport(title: "t", groups: try ReportGroup.runs([root + "/with", root + "/without"]))
        let figure = try #require(report.alongTheWayFigure())
        #expect(figure.0 == "quantisation-along-the-way.svg")
        #expect(figure.2.contains(request.label), "one panel per measured scheme")
        // Ratios 9/8, 10/8 at 320 and 640 tokens, and the end (40·4·8 = 1280 tokens) at the cached 8-bit ratio.
        let series = try #require(ReportGroup.runs([root + "/with"]).first?.runs.first?.evaluations)
        #expect(series.map(\.tokens) == [320, 640])
        let only = RunReport(title: "t", groups: try ReportGroup.runs([root + "/without"]))
        #expect(only.alongTheWayFigure() == nil, "runs without eval_at draw no such figure")
    }

    @Test("diagnostics are drawn as position 0 against the rest, per tap, with the peak max/median of the quantised inputs")
    func diagnosticsFigures() throws {
        let root = try Self.scratch("diagnostics")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeFakeRun(root + "/run", config: fakeConfig, level: 1)
        let extra = (0...4).map { k in
            JSONValue.object([
                JSONMember("step", .int(Int64(10 * k))), JSONMember("max_abs_pos0", .array([.double(40), .double(50), .null])),
                JSONMember("max_abs_rest", .array([.double(4), .double(5), .double(6)])), JSONMember("mmr_pos0", .array([.double(9), .double(9), .double(9)])),
                JSONMember("mmr_rest", .array([.double(3), .double(3), .double(3)])), JSONMember("attention_mass_pos0", .array([.double(0.9), .double(0.8)])),
                JSONMember("fc_in_peak_mmr", .array([.double(12), .double(20)])),
            ]).serialized() + "\n"
        }
        try AtomicFile.write(extra.joined(), to: root + "/run/metrics.jsonl")
        let report = RunReport(title: "t", groups: try ReportGroup.runs([root + "/run"]))
        let figures = Dictionary(uniqueKeysWithValues: report.figures().map { ($0.0, $0.2) })
        let byPosition = try #require(figures["max-abs-by-position.svg"])
        #expect(byPosition.contains(">position 0<") && byPosition.contains(">other positions<"), "one run: the part alone names the series")
        #expect(figures["mmr-by-position.svg"] != nil && figures["attention-mass-pos0.svg"] != nil)
        let peaks = try #require(figures["peak-mmr-quantised-inputs.svg"])
        #expect(peaks.contains("fc input") && !peaks.contains("qkv input"), "a panel only for the inputs that were logged")
    }
}
