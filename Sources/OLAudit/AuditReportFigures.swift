import Foundation
import OLCore
import OLMetrics
import OLQuant
import OLReports
import OLRuns

/// The audit report's figures: a summary of every claim against its threshold, and per claim its arms
/// on one axis with intervals, the metric's trajectory with seed bands, and the scatter behind a
/// correlation; then the quantisation study.
extension AuditReport {
    static let summaryFigureName = "summary.svg"
    static let studyFigureName = "quantisation-study.svg"

    /// Every figure as (file name, SVG text).
    func figures() -> [(String, String)] {
        var figures: [(String, String)] = []
        let judged = results.filter { $0.judgement.verdict != .notRun }
        if !judged.isEmpty { figures.append((Self.summaryFigureName, summaryChart(judged).render())) }
        for result in judged {
            let id = result.claim.id
            figures.append(("\(id)-arms.svg", armsChart(result).render()))
            if let trajectory = trajectoryChart(result) { figures.append(("\(id)-trajectory.svg", trajectory.render())) }
            if let scatter = scatterChart(result) { figures.append(("\(id)-scatter.svg", scatter.render())) }
            if let sites = sitesChart(result) { figures.append(("\(id)-sites.svg", sites.render())) }
        }
        if let study = studyChart() { figures.append((Self.studyFigureName, study.render())) }
        return figures
    }

    /// The figures of one claim's section, as (file name, caption).
    func claimFigures(_ result: ClaimResult) -> [(String, String)] {
        let id = result.claim.id, metric = result.claim.metric.label
        var figures = [("\(id)-arms.svg", "\(metric) per arm: seed mean (dot), 95 % t interval of the mean over seeds (whisker) and each seed (open circles), all arms on one axis.")]
        if case .series = result.claim.metric.source {
            figures.append(("\(id)-trajectory.svg", "\(metric.replacingOccurrences(of: ", tail mean", with: "").replacingOccurrences(of: ", final", with: "")) against step for every arm: mean over seeds, band from the lowest to the highest seed."))
        }
        if result.claim.against != nil {
            figures.append(("\(id)-scatter.svg", "Every run of the claim: \(metric) against \(result.claim.against!.label), one marker shape per arm."))
        }
        if case .siteCorrelation = result.claim.metric.source {
            figures.append(("\(id)-sites.svg", "Per linear input: Δppl when only that input is quantised against its own outlier metric, one series per seed."))
        }
        return figures
    }

    private func summaryChart(_ judged: [ClaimResult]) -> IntervalChart {
        IntervalChart(title: "Claims: statistic, 95 % interval over seeds and threshold", xLabel: "", rows: judged.map { result in
            let j = result.judgement
            return IntervalRow(label: result.claim.id, estimate: j.statistic, interval: j.interval, points: j.seedStatistics,
                               threshold: result.claim.predicate.comparison.threshold, colour: IntervalChart.colour(j.verdict),
                               note: "\(formatNumber(j.statistic)) \(result.claim.predicate.comparison.text): \(j.verdict.rawValue)")
        }, sharedAxis: false)
    }

    private func armsChart(_ result: ClaimResult) -> IntervalChart {
        IntervalChart(title: "\(result.claim.id): \(result.claim.metric.label)", xLabel: result.claim.metric.label,
                      rows: result.arms.enumerated().map { index, arm in
            let values = result.seeds.compactMap { arm.values[$0] }
            let interval = Statistics.tInterval(values)
            return IntervalRow(label: arm.name, estimate: Statistics.mean(values), interval: interval, points: values,
                               colour: SeriesLook(index: index).colour,
                               note: "\(formatNumber(Statistics.mean(values)))" + (interval.map { " [\(formatNumber($0.lowerBound)), \(formatNumber($0.upperBound))]" } ?? ""))
        }, sharedAxis: true)
    }

    /// Seed records of an arm, in seed order.
    private func records(_ arm: ArmResult, seeds: [UInt64]) -> [RunRecord] {
        seeds.compactMap { arm.runDirectories[$0] }.compactMap { record(String($0.dropFirst("runs/".count))) }
    }

    private func trajectoryChart(_ result: ClaimResult) -> SVGChart? {
        guard case .series(let name) = result.claim.metric.source else { return nil }
        let metric = result.claim.metric
        let series = result.arms.compactMap { arm -> ChartSeries? in
            let runs = records(arm, seeds: result.seeds).compactMap { try? $0.series(name, reducedBy: metric.taps) }
            guard let first = runs.first else { return nil }
            var points: [(x: Double, y: Double)] = [], band: [(x: Double, low: Double, high: Double)] = []
            for point in first where point.step > 0 || name != RunRecord.u42ShareKey {
                let values = runs.compactMap { $0.first { $0.step == point.step }?.value }.map { metric.excess ? $0 - 1 : $0 }.filter(\.isFinite)
                guard !values.isEmpty else { continue }
                points.append((Double(point.step), Statistics.mean(values)))
                band.append((Double(point.step), values.min()!, values.max()!))
            }
            return ChartSeries(name: arm.name, points: points, band: band)
        }
        guard !series.isEmpty else { return nil }
        return SVGChart(title: "\(result.claim.id): \(name) against step", xLabel: "step",
                        yLabel: "\(name)\(metric.excess ? " − 1" : "")", yScale: .automatic, series: series)
    }

    private func scatterChart(_ result: ClaimResult) -> SVGChart? {
        guard let against = result.claim.against else { return nil }
        let all = result.arms.flatMap { arm in result.seeds.compactMap { arm.againstValues[$0] } }
        let logX = all.allSatisfy { $0 > 0 } && (all.max() ?? 1) / (all.min() ?? 1) >= 100
        let series = result.arms.map { arm in
            ChartSeries(name: arm.name, points: result.seeds.compactMap { seed in
                guard let x = arm.againstValues[seed], let y = arm.values[seed] else { return nil }
                return (logX ? log10(x) : x, y)
            }, style: .markers)
        }
        return SVGChart(title: "\(result.claim.id): every run", xLabel: (logX ? "log10 " : "") + against.label,
                        yLabel: result.claim.metric.label, yScale: .linear, series: series)
    }

    private func sitesChart(_ result: ClaimResult) -> SVGChart? {
        guard case .siteCorrelation(let scheme, let bits, let metric) = result.claim.metric.source, let arm = result.arms.first else { return nil }
        let series = zip(result.seeds, records(arm, seeds: result.seeds)).map { seed, run -> ChartSeries in
            var points: [(x: Double, y: Double)] = []
            if let last = run.log.last(where: { $0["qkv_in_" + metric] != nil }) {
                for linear in QuantRequest.linearSites {
                    for (layer, value) in (last[linear + "_in_" + metric]?.arrayValue ?? []).enumerated() {
                        guard let x = value.doubleValue, let q = run.quantised[QuantRequest(scheme: scheme, bits: bits, site: "\(layer).\(linear)")] else { continue }
                        points.append((x, q.value(.deltaPPL)))
                    }
                }
            }
            return ChartSeries(name: "\(arm.name), seed \(seed)", points: points, style: .markers)
        }
        return SVGChart(title: "\(result.claim.id): per-site damage", xLabel: "linear input \(metric)",
                        yLabel: "Δppl, \(scheme) @ \(bits) bit at that input only", yScale: .linear, series: series)
    }

    // MARK: Quantisation study

    /// Per study arm and request: the seed values of the ppl ratio and how many are resolved.
    func studyCells() -> [(arm: String, request: QuantRequest, ratios: [Double], resolved: Int)] {
        guard let study = plan.study else { return [] }
        return study.claim.arms.flatMap { arm -> [(arm: String, request: QuantRequest, ratios: [Double], resolved: Int)] in
            let runs = study.seeds.compactMap { study.runKeys[arm.name]?[$0] }.compactMap(record)
            return plan.studyRequests.map { request in
                let measured = runs.compactMap { $0.quantised[request] }
                return (arm.name, request, measured.map { $0.value(.pplRatio) }, measured.filter { $0.isResolved == true }.count)
            }
        }
    }

    private func studyChart() -> IntervalChart? {
        let cells = studyCells().filter { !$0.ratios.isEmpty }
        guard !cells.isEmpty else { return nil }
        var arms: [String] = []
        for cell in cells where !arms.contains(cell.arm) { arms.append(cell.arm) }
        return IntervalChart(title: "Quantisation study: ppl ratio by scheme and bit width", xLabel: "quantised / float perplexity", rows: cells.map { cell in
            let interval = Statistics.tInterval(cell.ratios)
            return IntervalRow(label: "\(cell.arm) · \(cell.request.label)", estimate: Statistics.mean(cell.ratios), interval: interval, points: cell.ratios,
                               threshold: 1, colour: SeriesLook(index: arms.firstIndex(of: cell.arm) ?? 0).colour,
                               note: "\(NumberText.ratio(Statistics.mean(cell.ratios))), \(cell.resolved)/\(cell.ratios.count) resolved")
        }, sharedAxis: true)
    }

    func quantisationStudySection(available: Set<String>) -> [ReportBlock] {
        let cells = studyCells()
        guard let study = plan.study, !cells.isEmpty else { return [] }
        var blocks: [ReportBlock] = [.heading(2, "Quantisation study")]
        let requests = plan.studyRequests
        var schemes: [String] = []
        for request in requests where !schemes.contains(request.scheme) { schemes.append(request.scheme) }
        let described = schemes.map { name in
            let bits = requests.filter { $0.scheme == name }.map { String($0.bits) }.joined(separator: ", ")
            return "`\(name)` at \(bits) bits" + ((try? QuantScheme.parse(name)).map { " (\($0.summary))" } ?? "")
        }
        blocks.append(.paragraph("Every scheme below on the study's arms (seeds \(study.seeds.map(String.init).joined(separator: ", "))): \(described.joined(separator: "; ")). Cells: seed-mean ppl ratio [lowest–highest seed]; *resolved* counts the seeds whose Δppl has a 95 % interval over the evaluation windows that excludes 0."))
        let arms = study.claim.arms.map(\.name)
        blocks.append(.table(["arm"] + requests.map(\.label), arms.map { arm in
            [arm] + requests.map { request in
                guard let cell = cells.first(where: { $0.arm == arm && $0.request == request }), !cell.ratios.isEmpty else { return "—" }
                return "\(NumberText.ratio(Statistics.mean(cell.ratios))) [\(NumberText.fixed(cell.ratios.min()!, digits: 4))–\(NumberText.fixed(cell.ratios.max()!, digits: 4))], \(cell.resolved)/\(cell.ratios.count) resolved"
            }
        }))
        if available.contains(Self.studyFigureName) {
            blocks.append(.figure(Self.studyFigureName, "The table as a figure: seed mean, 95 % t interval of the mean and each seed; the dashed line is no degradation."))
        }
        blocks.append(.paragraph(studyExplanation(cells: cells, arms: arms)))
        return blocks
    }

    /// Which part of the 4-bit damage the weights and which the activations carry, per arm, in words.
    private func studyExplanation(cells: [(arm: String, request: QuantRequest, ratios: [Double], resolved: Int)], arms: [String]) -> String {
        func mean(_ arm: String, _ scheme: String) -> Double? {
            cells.first { $0.arm == arm && $0.request == QuantRequest(scheme: scheme, bits: 4) && !$0.ratios.isEmpty }.map { Statistics.mean($0.ratios) }
        }
        let lines = arms.compactMap { arm -> String? in
            guard let both = mean(arm, "w8a8-naive"), let weights = mean(arm, "w8-only"), let activations = mean(arm, "a8-only") else { return nil }
            let larger = weights - 1 >= activations - 1 ? "weights" : "activations"
            return "\(arm): W4A4 ×\(formatNumber(both)) = weights alone ×\(formatNumber(weights)) and activations alone ×\(formatNumber(activations)), so the 4-bit damage is mostly in the \(larger)"
        }
        guard !lines.isEmpty else { return "No arm has all three 4-bit measurements." }
        return "**Where the 4-bit damage comes from.** " + lines.joined(separator: "; ") + ". Activation outliers (kurtosis) can only explain the activation part; a model whose damage sits in its weights degrades at 4 bits whatever its activation kurtosis."
    }
}
