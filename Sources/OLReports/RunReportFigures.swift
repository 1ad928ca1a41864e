import Foundation
import OLCore
import OLRuns

/// The figures of `olab report`: panels per tap (or layer, or term), every group on the same axes.
extension RunReport {
    /// A per-tap log key drawn as one panel per tap.
    struct TapFigure: Sendable {
        let key: String, file: String, title: String, yLabel: String, panel: @Sendable (Int) -> String, caption: String
    }

    static let tapFigures: [TapFigure] = [
        TapFigure(key: "kurtosis", file: "kurtosis.svg", title: "Kurtosis (Eq. 1, uncentred) per tap", yLabel: "kurtosis (Eq. 1)",
                  panel: tapName, caption: "Kurtosis of neuron RMS (paper Eq. 1, uncentred; 1 = all neurons equal) against step, one panel per tap."),
        TapFigure(key: "kurtosis_centred", file: "kurtosis-centred.svg", title: "Kurtosis (centred, the official logger's form) per tap",
                  yLabel: "kurtosis (centred)", panel: tapName,
                  caption: "Centred kurtosis (variance over neurons of the width-centred, RMS-normalised squares; ≈ Eq. 1 − 1) against step, one panel per tap."),
        TapFigure(key: "mmr", file: "mmr.svg", title: "Max-median ratio per tap", yLabel: "MMR (max |x| / median |x|)", panel: tapName,
                  caption: "Max-median ratio (mean over tokens of max_j |x| / median_j |x|) against step, one panel per tap."),
        TapFigure(key: "attention_entropy", file: "attention-entropy.svg", title: "Attention entropy per layer", yLabel: "entropy (nats)",
                  panel: { "layer \($0)" }, caption: "Attention entropy (mean over heads and query rows of −Σ p log p) against step, one panel per layer."),
        TapFigure(key: "attention_mass_pos0", file: "attention-mass-pos0.svg", title: "Attention mass on key position 0 per layer",
                  yLabel: "mean probability on key 0", panel: { "layer \($0)" },
                  caption: "Attention probability on key position 0 (mean over batch, heads and query rows; `diagnostics` on): an attention sink shows as mass near 1."),
    ]

    /// Diagnostics drawn as position 0 against every other position, one panel per residual tap.
    static let positionFigures: [(first: String, rest: String, file: String, title: String, yLabel: String)] = [
        ("max_abs_pos0", "max_abs_rest", "max-abs-by-position.svg", "Largest |activation| per tap: position 0 and the rest", "max |x|"),
        ("mmr_pos0", "mmr_rest", "mmr-by-position.svg", "Max-median ratio per tap: position 0 and the rest", "max |x| / median |x|"),
    ]

    /// The linear layers whose inputs the quantised schemes see, as the `<linear>_in_peak_mmr` keys name them.
    static let quantisedInputs = ["qkv", "attn_proj", "fc", "mlp_proj"]

    /// The kurtosis-update terms (OLMetrics' Metrics article) as logged (running totals, arrays over taps).
    static let decompositionKeys = ["cum_u21", "cum_u22", "cum_u41", "cum_u42", "cum_u43", "cum_u44", "cum_kurtosis_change"]

    static func tapName(_ tap: Int) -> String { tap == 0 ? "tap 0 (embedding)" : "tap \(tap) (block \(tap))" }

    /// Every figure as (file name, caption, SVG).
    func figures() -> [(String, String, String)] {
        var figures: [(String, String, String)] = []
        let loss = ["loss", "probe_loss"].map { key in
            SVGChart(title: key == "loss" ? "training loss (batch)" : "probe loss (fixed batch)", xLabel: "step", yLabel: "loss (nats/byte)",
                     yScale: .automatic, series: groups.map { group in seriesOf(group) { $0.scalar(key) } })
        }
        figures.append(("loss.svg", "Training loss (the step's batch) and probe loss (the fixed probe batch) against step.",
                        SVGPanelGrid(title: "Loss", panels: loss).render()))
        for figure in Self.tapFigures {
            let taps = groups.map { $0.runs.map { $0.tapCount(figure.key) }.min() ?? 0 }.max() ?? 0
            guard taps > 0 else { continue }
            let panels = (0..<taps).map { tap in
                SVGChart(title: figure.panel(tap), xLabel: "step", yLabel: figure.yLabel, yScale: .automatic,
                         series: groups.map { group in seriesOf(group) { (try? $0.series(figure.key, reducedBy: .tap(tap))) ?? [] } })
            }
            figures.append((figure.file, figure.caption, SVGPanelGrid(title: figure.title, panels: panels, columns: taps > 4 ? 3 : 2).render()))
        }
        for figure in Self.positionFigures {
            let taps = groups.map { $0.runs.map { $0.tapCount(figure.first) }.min() ?? 0 }.max() ?? 0
            guard taps > 0 else { continue }
            let panels = (0..<taps).map { tap in
                SVGChart(title: Self.tapName(tap), xLabel: "step", yLabel: figure.yLabel, yScale: .automatic,
                         series: groups.flatMap { group in [(figure.first, "position 0"), (figure.rest, "other positions")].map { key, part in
                             var series = seriesOf(group) { (try? $0.series(key, reducedBy: .tap(tap))) ?? [] }
                             // The part first: legends cut long names, and with one run the part is the whole story.
                             series.name = groups.count == 1 ? part : "\(part), \(group.label)"
                             return series
                         } })
            }
            figures.append((figure.file, figure.title + " against step (`diagnostics` on): massive activations sit on a fixed first token, so position 0 is drawn apart from the other positions.",
                            SVGPanelGrid(title: figure.title, panels: panels, columns: taps > 4 ? 3 : 2).render()))
        }
        let peakKeys = Self.quantisedInputs.map { "\($0)_in_peak_mmr" }.filter { key in groups.contains { $0.runs.contains { $0.tapCount(key) > 0 } } }
        if !peakKeys.isEmpty {
            let panels = peakKeys.map { key in
                SVGChart(title: String(key.dropLast("_peak_mmr".count)).replacingOccurrences(of: "_in", with: " input"), xLabel: "step",
                         yLabel: "peak max/median (largest block)", yScale: .automatic,
                         series: groups.map { group in seriesOf(group) { (try? $0.series(key, reducedBy: .max)) ?? [] } })
            }
            figures.append(("peak-mmr-quantised-inputs.svg", "Peak max-median ratio of the rows each quantised linear layer reads (the largest over blocks; `diagnostics` on): the ratio a per-tensor activation scale has to span.",
                            SVGPanelGrid(title: "Peak max/median at the quantised inputs", panels: panels, columns: 2).render()))
        }
        if let along = alongTheWayFigure() { figures.append(along) }
        let logged = Self.decompositionKeys.filter { key in groups.contains { $0.runs.contains { $0.tapCount(key) > 0 } } }
        if !logged.isEmpty {
            let panels = logged.map { key in
                SVGChart(title: key, xLabel: "step", yLabel: "running total (layer mean)", yScale: .linear,
                         series: groups.map { group in seriesOf(group) { (try? $0.series(key, reducedBy: .mean)) ?? [] } })
            }
            figures.append(("kurtosis-update.svg", "Kurtosis-update decomposition, running totals over steps, mean over taps: u₂₁, u₂₂ (second moment), u₄₁ … u₄₄ (fourth moment) and the total kurtosis change.",
                            SVGPanelGrid(title: "Kurtosis-update decomposition (cumulative, layer mean)", panels: panels, columns: 3).render()))
        }
        return figures
    }

    /// Quantised over float perplexity at every `eval_at` point and at the end, against training tokens,
    /// one panel per scheme and bit width (runs measured along the way only).
    func alongTheWayFigure() -> (String, String, String)? {
        let requests = Set(groups.flatMap { $0.runs.flatMap { $0.evaluations.flatMap(\.quantised.keys) } }).sorted()
        guard !requests.isEmpty else { return nil }
        let panels = requests.map { request in
            SVGChart(title: request.label, xLabel: "training tokens (millions)", yLabel: "quantised / float perplexity", yScale: .linear,
                     series: groups.map { group in
                         SeedSummary(group.runs.map { run in
                             var points = run.evaluations.compactMap { point in
                                 point.quantised[request].map { SeriesPoint(step: point.tokens, value: $0.value(.pplRatio)) }
                             }
                             if let end = run.quantised[request], let steps = run.config["steps"]?.intValue,
                                let batch = run.config["batch"]?.intValue, let seq = run.config["seq"]?.intValue {
                                 points.append(SeriesPoint(step: steps * batch * seq, value: end.value(.pplRatio)))
                             }
                             return points
                         }).series(name: group.label, seeds: group.runs.count).scaledX(by: 1e-6)
                     })
        }
        return ("quantisation-along-the-way.svg",
                "Quantised over float perplexity measured along the way (`eval_at`, on the checkpoint of that step, at a learning rate still decaying) and at the end, against training tokens: when the outlier features appear, the quantisation damage follows.",
                SVGPanelGrid(title: "Quantisation damage against training tokens", panels: panels, columns: 2).render())
    }

    /// A group's values of one quantity against step: the run's line, or the seed mean with a min–max band.
    func seriesOf(_ group: ReportGroup, _ values: (RunRecord) -> [SeriesPoint]) -> ChartSeries {
        SeedSummary(group.runs.map(values)).series(name: group.label, seeds: group.runs.count)
    }
}
