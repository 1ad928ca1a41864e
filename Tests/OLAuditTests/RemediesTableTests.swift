import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
import OLMetrics
@testable import OLReports
@testable import OLRuns

/// Remedy arms in two claims and the study, an lr arm that is no remedy, an OP arm trained at the full
/// scale only, and SmoothQuant measured on the baseline by the study.
let remediesRegistryJSON = """
\(tinyRegistryBase(steps: 12, logEvery: 4, evalWindows: 4))
 "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [1, 2, 3]}},
 "quantisation_study": {"arms": [{"name": "Pre-LN + AdamW", "config": {"kurtosis_decomposition": true}}],
                        "schemes": [["w8a8-naive", 8], ["w8a8-smooth", 8], ["w8a8-static", 6]]},
 "claims": [
  {"id": "remedies", "statement": "OP + SOAP beats Bondarenko's remedies", "paper": "Table 2", "paper_says": "OP + SOAP best", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN + AdamW", "config": {}},
            {"name": "OP + SOAP", "config": {"block": "op", "optimizer": "soap", "beta1": 0.95, "beta2": 0.95, "shampoo_beta": 0.95}},
            {"name": "clipped", "config": {"clipped_softmax_alpha": 4.0}},
            {"name": "gated", "config": {"gated_attention": true}}],
   "metric": {"quantised": "ppl_ratio", "scheme": "w8a8-naive", "bits": 8},
   "predicate": {"kind": "ratio", "pairs": [["clipped", "OP + SOAP"]], "at_least": 1.0}},
  {"id": "lr", "statement": "a smaller lr", "paper": "§5", "paper_says": "fewer OFs", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN + AdamW", "config": {}}, {"name": "Pre-LN lr 1e-3", "config": {"lr": 0.001}}],
   "metric": {"quantised": "ppl_ratio", "scheme": "w8a8-naive", "bits": 8},
   "predicate": {"kind": "ratio", "pairs": [["Pre-LN + AdamW", "Pre-LN lr 1e-3"]], "at_least": 1.0}},
  {"id": "op-full", "statement": "OP alone", "paper": "§3", "paper_says": "OP ≪ Pre-LN", "origin": {"kind": "paper"},
   "scales": {"quick": {"run": false}},
   "arms": [{"name": "Pre-LN + AdamW", "config": {}}, {"name": "OP", "config": {"block": "op"}}],
   "metric": {"quantised": "ppl_ratio", "scheme": "w8a8-naive", "bits": 8},
   "predicate": {"kind": "ratio", "pairs": [["Pre-LN + AdamW", "OP"]], "at_least": 1.0}}
 ]}
"""

@Suite("Every remedy side by side in the audit report")
struct RemediesTableTests {
    /// The W8A8 ratio each arm's runs report (by arm name), and SmoothQuant's on the baseline's runs.
    static let naiveRatio = ["Pre-LN + AdamW": 1.20, "OP + SOAP": 1.01, "clipped": 1.10, "gated": 1.08, "Pre-LN lr 1e-3": 1.5]
    static let smoothRatio = 1.04, staticRatio = 1.3

    static func report() throws -> AuditReport {
        let registry = try ClaimRegistry(json: try JSONValue.parse(remediesRegistryJSON))
        let plan = try AuditPlan(registry: registry, scale: .quick, corpus: .synthetic)
        var outcomes: [String: RunOutcome] = [:]
        for run in plan.runs {
            let arm = try #require(run.uses.first?.split(separator: "/").dropFirst().first.map { String($0).trimmingCharacters(in: .whitespaces) })
            var quantised: [QuantRequest: QuantisedPerplexity] = [:]
            for request in run.quantisations {
                let ratio = switch request.scheme {
                case "w8a8-smooth": smoothRatio
                case "w8a8-static": staticRatio
                default: try #require(naiveRatio[arm], "no ratio for arm \(arm)")
                }
                let delta = 10 * ratio - 10  // every effect resolved: its interval is [½Δ, 1.5Δ] with Δ > 0
                quantised[request] = QuantisedPerplexity(floatPPL: 10, quantisedPPL: 10 * ratio, deltaInterval: (delta / 2)...(delta * 1.5))
            }
            outcomes[run.key] = .finished(RunRecord(directory: "runs/\(run.key)", log: [], summary: .object(["val_loss": .double(2)]),
                                                    quantised: quantised), cached: true)
        }
        return AuditReport(plan: plan, results: [], outcomes: outcomes, wallSeconds: 0)
    }

    @Test("rows are the baseline, each training-time remedy and SmoothQuant; arms that change anything else stay out")
    func rowsAreTheRemedies() throws {
        let rows = try Self.report().remedyRows()
        #expect(rows.map(\.label) == ["none: Pre-LN + AdamW", "OP block + SOAP", "clipped softmax, α = 4 (Pre-LN + AdamW)",
                                      "gated attention (Pre-LN + AdamW)", "SmoothQuant on Pre-LN + AdamW's runs"])
        #expect(rows.map(\.kind) == [.baseline, .trainingTime, .trainingTime, .trainingTime, .postTraining])
        // The baseline merges the claims' Pre-LN + AdamW with the study's, whose arm differs only in
        // kurtosis_decomposition, a key the planner decides: the two share one run per seed.
        #expect(rows[0].keys.keys.sorted() == [1, 2, 3] && rows[0].keys.values.allSatisfy { $0.count == 1 }, "\(rows[0].keys)")
    }

    @Test("SmoothQuant stands in the w8a8-naive column of its bit width; each remedy's cell is its own runs' seed mean")
    func cellsReadTheRightRuns() throws {
        let report = try Self.report()
        let rows = report.remedyRows()
        let columns = report.remedyColumns(rows)
        #expect(columns.map(\.scheme).sorted() == ["w8a8-naive", "w8a8-static"], "SmoothQuant is a row, not a column")
        let naive = QuantRequest(scheme: "w8a8-naive", bits: 8), staticSix = QuantRequest(scheme: "w8a8-static", bits: 6)
        func mean(_ row: RemedyRow, _ request: QuantRequest) -> Double? {
            let cell = report.remedyCell(row, request)
            return cell.isEmpty ? nil : Statistics.mean(cell.map(\.ratio))
        }
        // Ratios are exact products of 10 and a two-decimal number: 1e-12 is float rounding only.
        let tolerance = 1e-12
        #expect(abs(try #require(mean(rows[0], naive)) - 1.20) < tolerance)
        #expect(abs(try #require(mean(rows[1], naive)) - 1.01) < tolerance)
        #expect(abs(try #require(mean(rows[2], naive)) - 1.10) < tolerance)
        #expect(abs(try #require(mean(rows[4], naive)) - Self.smoothRatio) < tolerance)
        #expect(mean(rows[4], staticSix) == nil, "SmoothQuant has no static cell")
        #expect(abs(try #require(mean(rows[0], staticSix)) - Self.staticRatio) < tolerance, "the study measured static 6-bit on the baseline")
        #expect(mean(rows[1], staticSix) == nil, "OP + SOAP's claim did not measure static 6-bit")
    }

    @Test("the section names the remedies trained at other scales only, and report.json carries every row")
    func sectionAndJSON() throws {
        let report = try Self.report()
        let markdown = ReportRenderer.markdown(report.remediesSection())
        #expect(markdown.contains("## Every remedy side by side"))
        // Columns: 8 bits before 6, so SmoothQuant's 8-bit cell comes first and the static 6-bit one is empty.
        #expect(markdown.contains("| SmoothQuant on Pre-LN + AdamW's runs | post-training | Xiao et al. 2023 | ×1.0400, 3/3 resolved | — |"), "\(markdown)")
        #expect(markdown.contains("Not trained at the quick scale: OP block (AdamW) (`olab audit --scale full`)."), "\(markdown)")
        #expect(!markdown.contains("lr 1e-3"))
        let rows = try #require(report.remediesJSON().arrayValue)
        #expect(rows.count == 5)
        #expect(rows.last?["acts"]?.stringValue == "post-training")
    }
}
