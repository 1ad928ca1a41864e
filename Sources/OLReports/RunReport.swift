import Foundation
import OLCore
import OLMetrics
import OLQuant
import OLRuns

/// `olab report`: one page comparing runs (or a sweep's groups) — settings that differ, loss, outlier
/// metrics per tap against step, the kurtosis-update decomposition when logged, and quantised
/// perplexity — as `report.html` (SVG inline, no network, no script), `report.md` and `figures/*.svg`.
public struct RunReport {
    public var title: String
    public var groups: [ReportGroup]
    /// Lines about the input worth saying (swept axes, runs left out).
    public var notes: [String]

    /// The quantised measurements the table shows: every scheme at 8, 6 and 4 bits.
    public static let quantRequests: [QuantRequest] = QuantScheme.allCases.flatMap { scheme in
        QuantSettings.supportedBits.map { QuantRequest(scheme: scheme.rawValue, bits: $0) }
    }

    public init(title: String, groups: [ReportGroup], notes: [String] = []) {
        self.title = title
        self.groups = groups
        self.notes = notes
    }

    /// Writes report.md, report.html and the figures as a whole (`ReportFolder`), under the output policy
    /// (`replace`: also over a user's files of those names).
    public func write(to directory: String, replace: Bool = false) throws {
        let figures = self.figures()
        let blocks = document(figures: figures.map { ($0.0, $0.1) })
        let inline = Dictionary(uniqueKeysWithValues: figures.map { ($0.0, $0.2) })
        let files = [("report.md", ReportRenderer.markdown(blocks)), ("report.html", ReportRenderer.html(blocks, figures: inline, title: title))]
            + figures.map { ("figures/" + $0.0, $0.2) }
        try ReportFolder.write(files.map { ($0.0, Array($0.1.utf8)) }, to: directory, replace: replace)
    }

    /// Every file a report may write, for checking the output policy before measuring anything.
    public static var possibleFiles: [String] {
        ["report.md", "report.html", "figures/loss.svg", "figures/kurtosis-update.svg"] + tapFigures.map { "figures/" + $0.file }
    }

    func document(figures: [(String, String)]) -> [ReportBlock] {
        var blocks: [ReportBlock] = [.heading(1, title)]
        blocks += notes.map(ReportBlock.paragraph)
        blocks.append(.paragraph("Kurtosis is shown in both forms: **Eq. 1** (uncentred neuron RMS, 1 when every neuron has the same RMS) and **centred** (the official logger's variance form, ≈ Eq. 1 − 1). Metrics are measured on the fixed probe batch at every logged step; a band is the min–max over seeds around their mean."))
        blocks.append(.heading(2, "Runs"))
        blocks.append(runsTable())
        blocks.append(.heading(2, "Settings that differ"))
        blocks += configBlocks()
        blocks.append(.heading(2, "Curves"))
        blocks += figures.map { ReportBlock.figure($0.0, $0.1) }
        blocks.append(.heading(2, "Quantised perplexity"))
        blocks.append(.paragraph("Perplexity on each run's fixed validation windows, float and fake-quantised (`olab eval --quant`, all windows in one forward call; `w8a8-static` calibrates on 8 train batches). Cells: perplexity (× ratio to float); with several seeds, the seed mean and [min–max]. Results are cached beside each run as `quant-<scheme>-<bits>bit.json`, shared with `olab audit` and `olab sweep`."))
        blocks.append(quantTable())
        return blocks
    }

    // MARK: Tables

    func runsTable() -> ReportBlock {
        let rows = groups.map { group -> [String] in
            let seeds = group.configs.map { $0["seed"].map(SweepGrid.text) ?? "?" }.joined(separator: ", ")
            let summary = { (key: String) in self.spread(group.runs.map { $0.summary[key]?.doubleValue ?? .nan }) }
            return [group.label, "\(group.runs.count)", seeds, group.configs.first?["steps"].map(SweepGrid.text) ?? "?",
                    summary("final_loss"), summary("val_loss"), summary("val_ppl"), group.runs.map { Self.abbreviated($0.directory) }.joined(separator: " ")]
        }
        return .table(["run", "runs", "seeds", "steps", "probe loss (end)", "val loss", "val ppl", "directory"], rows)
    }

    /// Keys whose values differ between groups (seeds aside), then the settings every run shares.
    func configBlocks() -> [ReportBlock] {
        let keys = Set(groups.flatMap { $0.configs.flatMap(\.keys) }).subtracting(["seed"]).sorted()
        func value(_ group: ReportGroup, _ key: String) -> String {
            let values = Set(group.configs.map { $0[key].map { $0 == .null ? "null" : SweepGrid.text($0) } ?? "—" })
            return values.count == 1 ? values.first! : "varies: " + values.sorted().joined(separator: ", ")
        }
        let differing = keys.filter { key in Set(groups.map { value($0, key) }).count > 1 || value(groups[0], key).hasPrefix("varies") }
        let shared = keys.filter { !differing.contains($0) }.map { "`\($0)`=\(value(groups[0], $0))" }
        var blocks: [ReportBlock] = differing.isEmpty
            ? [.paragraph(groups.count > 1 ? "The runs differ only in their seeds." : "One run.")]
            : [.table(["setting"] + groups.map(\.label), differing.map { key in [key] + groups.map { value($0, key) } })]
        blocks.append(.paragraph("Shared by every run: " + shared.joined(separator: ", ") + "."))
        return blocks
    }

    func quantTable() -> ReportBlock {
        var rows: [[String]] = [["float"] + groups.map { group in
            spread(group.runs.map { run in run.quantised.values.first?.floatPPL ?? run.summary["val_ppl"]?.doubleValue ?? .nan })
        }]
        for request in Self.quantRequests {
            rows.append([request.label] + groups.map { group in
                let measured = group.runs.compactMap { $0.quantised[request] }
                guard measured.count == group.runs.count else { return "—" }
                let ratio = Statistics.mean(measured.map { $0.value(.pplRatio) })
                return spread(measured.map(\.quantisedPPL)) + " (×\(NumberText.fixed(ratio, digits: 4)))"
            })
        }
        return .table(["scheme"] + groups.map(\.label), rows)
    }

    /// A path with cache keys (long hex names) cut to their first 12 characters.
    static func abbreviated(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { $0.count > 24 ? $0.prefix(12) + "…" : String($0) }.joined(separator: "/")
    }

    /// "3.14" for one value; "3.14 [3.10–3.20]" (mean, min–max) for several.
    func spread(_ values: [Double]) -> String {
        guard values.count > 1 else { return values.first.map(formatNumber) ?? "—" }
        return "\(formatNumber(Statistics.mean(values))) [\(formatNumber(values.min()!))–\(formatNumber(values.max()!))]"
    }
}
