import OLCore
import OLMetrics
import OLQuant
import OLReports
import OLRuns

/// Issue 30's table: every outlier remedy the audit trains or applies, side by side against the Pre-LN +
/// AdamW baseline under the same quantisation schemes. Training-time remedies are arms trained
/// differently (the OP block and SOAP of He et al.; clipped softmax and gated attention of Bondarenko et
/// al. 2023); the post-training remedy (SmoothQuant, Xiao et al. 2023) is a scheme applied to the
/// baseline's own runs. Rows come from every claim's and the study's arms, recognised by their config.
struct RemedyRow: Equatable {
    enum Kind: String { case baseline = "baseline", trainingTime = "training-time", postTraining = "post-training" }

    /// The settings that make an arm a remedy row. An arm setting anything else (a learning rate, a
    /// final norm, an ε, AdamW β) is a different experiment and stays out of the table.
    struct Signature: Hashable {
        var op = false
        var soap = false
        var clipAlpha: Double?
        var gated = false

        /// The arm's signature, or nil when it sets a key no remedy explains or runs at a chosen rate.
        init?(_ arm: ArmSpec) {
            guard !arm.bestLearningRate else { return nil }
            let soapOnly: Set<String> = ["beta1", "beta2", "shampoo_beta"]
            for member in arm.reportedConfig {
                switch (member.key, member.value) {
                case ("block", .string(let block)) where block == "op" || block == "preLN": op = block == "op"
                case ("optimizer", .string(let optimizer)) where optimizer == "soap" || optimizer == "adamw": soap = optimizer == "soap"
                case ("clipped_softmax_alpha", let value): guard let alpha = value.doubleValue else { return nil }; clipAlpha = alpha
                case ("gated_attention", .bool(let on)): gated = on
                case (let key, _) where soapOnly.contains(key): continue   // checked below: SOAP's own β
                default: return nil
                }
            }
            if !soap, arm.config.contains(where: { soapOnly.contains($0.key) }) { return nil }
            if (clipAlpha != nil || gated) && (op || soap) { return nil }
        }

        init(op: Bool = false, soap: Bool = false, clipAlpha: Double? = nil, gated: Bool = false) {
            (self.op, self.soap, self.clipAlpha, self.gated) = (op, soap, clipAlpha, gated)
        }

        var isBaseline: Bool { self == Signature() }

        var label: String {
            switch (op, soap) {
            case (true, true): return "OP block + SOAP"
            case (true, false): return "OP block (AdamW)"
            case (false, true): return "SOAP (Pre-LN)"
            case (false, false):
                if let clipAlpha { return "clipped softmax, α = \(formatNumber(clipAlpha)) (Pre-LN + AdamW)" + (gated ? " + gated attention" : "") }
                return gated ? "gated attention (Pre-LN + AdamW)" : "none: Pre-LN + AdamW"
            }
        }

        var source: String {
            if clipAlpha != nil || gated { return "Bondarenko et al. 2023" }
            return isBaseline ? "—" : "He et al. 2024"
        }
    }

    var label: String
    var kind: Kind
    var source: String
    /// Seed → run keys of this row's arms (several claims may train the same remedy).
    var keys: [UInt64: [String]]
    /// For the post-training row: the scheme that replaces `w8a8-naive` on the baseline's runs.
    var scheme: String?
}

extension AuditReport {
    /// The scheme of the post-training remedy and what it stands in for.
    static let smoothScheme = "w8a8-smooth", smoothReplaces = "w8a8-naive"

    /// The rows of the remedies table at this scale: the baseline first, then each training-time remedy
    /// in registry order, then SmoothQuant on the baseline's runs when any was measured.
    func remedyRows() -> [RemedyRow] {
        var order: [RemedyRow.Signature] = []
        var keys: [RemedyRow.Signature: [UInt64: [String]]] = [:]
        for runs in plan.claims + [plan.study].compactMap({ $0 }) {
            for arm in runs.claim.arms {
                guard let signature = RemedyRow.Signature(arm) else { continue }
                if !order.contains(signature) { order.append(signature) }
                for (seed, key) in runs.runKeys[arm.name] ?? [:] where !(keys[signature]?[seed]?.contains(key) ?? false) {
                    keys[signature, default: [:]][seed, default: []].append(key)
                }
            }
        }
        let baseline = RemedyRow.Signature()
        var rows: [RemedyRow] = []
        if let baselineKeys = keys[baseline] {
            rows.append(RemedyRow(label: baseline.label, kind: .baseline, source: baseline.source, keys: baselineKeys))
        }
        for signature in order where !signature.isBaseline {
            guard let rowKeys = keys[signature], !rowKeys.isEmpty else { continue }
            rows.append(RemedyRow(label: signature.label, kind: .trainingTime, source: signature.source, keys: rowKeys))
        }
        if let baselineKeys = keys[baseline], baselineKeys.values.joined().contains(where: { key in
            record(key)?.quantised.keys.contains { $0.scheme == Self.smoothScheme && $0.site == nil && $0.planted == nil } ?? false
        }) {
            rows.append(RemedyRow(label: "SmoothQuant on Pre-LN + AdamW's runs", kind: .postTraining, source: "Xiao et al. 2023",
                                  keys: baselineKeys, scheme: Self.smoothScheme))
        }
        return rows
    }

    /// Remedies the registry trains at other scales only, with those scales (for the sentence under the table).
    func remediesElsewhere(present: [RemedyRow]) -> [(label: String, scales: [String])] {
        var found: [(label: String, scales: [String])] = []
        for claim in plan.registry.claims + [plan.registry.quantisationStudy?.asClaim].compactMap({ $0 }) {
            let scales = AuditScale.allCases.filter { $0 != plan.scale && !plan.registry.seeds(claim: claim, scale: $0).isEmpty }.map(\.rawValue)
            for arm in claim.arms {
                guard let signature = RemedyRow.Signature(arm), !signature.isBaseline,
                      !present.contains(where: { $0.label == signature.label }) else { continue }
                if let index = found.firstIndex(where: { $0.label == signature.label }) {
                    found[index].scales = Array(Set(found[index].scales + scales)).sorted()
                } else if !scales.isEmpty {
                    found.append((signature.label, scales))
                }
            }
        }
        return found
    }

    /// The whole-model schemes (no site, no planted channel) measured on any row's runs, SmoothQuant
    /// excepted (it is a row), in the study's order.
    func remedyColumns(_ rows: [RemedyRow]) -> [QuantRequest] {
        var requests = Set<QuantRequest>()
        for row in rows where row.kind != .postTraining {
            for key in row.keys.values.joined() {
                guard let measured = record(key)?.quantised else { continue }
                for request in measured.keys where request.site == nil && request.planted == nil && request.scheme != Self.smoothScheme {
                    requests.insert(request)
                }
            }
        }
        // 8 bits first (the paper's setting), then 6 and 4; within a width, in the schemes' declared order.
        let order = QuantScheme.allCases.map(\.rawValue)
        return requests.sorted { a, b in
            (-a.bits, order.firstIndex(of: a.scheme) ?? order.count, a.scheme) < (-b.bits, order.firstIndex(of: b.scheme) ?? order.count, b.scheme)
        }
    }

    /// A row's seed values under `request` (its own scheme in place of `w8a8-naive` for SmoothQuant):
    /// the ppl ratio of the first run of each seed that measured it, and whether its Δppl is resolved.
    func remedyCell(_ row: RemedyRow, _ request: QuantRequest) -> [(seed: UInt64, ratio: Double, resolved: Bool)] {
        var lookup = request
        if let scheme = row.scheme {
            guard request.scheme == Self.smoothReplaces else { return [] }
            lookup.scheme = scheme
        }
        return row.keys.keys.sorted().compactMap { seed in
            for key in row.keys[seed] ?? [] {
                if let measured = record(key)?.quantised[lookup] { return (seed, measured.value(.pplRatio), measured.isResolved == true) }
            }
            return nil
        }
    }

    func remediesSection() -> [ReportBlock] {
        let rows = remedyRows()
        let columns = remedyColumns(rows)
        guard rows.count > 1 || !columns.isEmpty else { return [] }
        var blocks: [ReportBlock] = [.heading(2, "Every remedy side by side")]
        blocks.append(.paragraph("Each remedy against the baseline it repairs, under every whole-model scheme measured at this scale. **Training-time** remedies are arms trained differently on the same seeds; the **post-training** remedy is a scheme applied to the baseline's own runs: SmoothQuant (α = 0.5) is per-tensor W8A8 after smoothing, so it stands in the `w8a8-naive` columns of its bit width. Cells: seed-mean quantised / float perplexity ratio, and how many seeds' Δppl has a 95 % interval over the evaluation windows that excludes 0."))
        blocks.append(.table(["remedy", "acts", "from"] + columns.map(\.label), rows.map { row in
            [row.label, row.kind.rawValue, row.source] + columns.map { request in
                let cell = remedyCell(row, request)
                guard !cell.isEmpty else { return "—" }
                return "\(NumberText.ratio(Statistics.mean(cell.map(\.ratio)))), \(cell.filter(\.resolved).count)/\(cell.count) resolved"
            }
        }))
        let elsewhere = remediesElsewhere(present: rows)
        if !elsewhere.isEmpty {
            blocks.append(.paragraph("Not trained at the \(plan.scale.rawValue) scale: " + elsewhere.map { "\($0.label) (" + $0.scales.map { "`olab audit --scale \($0)`" }.joined(separator: " or ") + ")" }.joined(separator: "; ") + "."))
        }
        return blocks
    }

    /// The table's numbers for `report.json`: per row, per scheme label, the seed ratios and resolution.
    func remediesJSON() -> JSONValue {
        let rows = remedyRows()
        let columns = remedyColumns(rows)
        return .array(rows.map { row in
            .object([
                JSONMember("remedy", .string(row.label)), JSONMember("acts", .string(row.kind.rawValue)), JSONMember("from", .string(row.source)),
                JSONMember("cells", .object(columns.compactMap { request in
                    let cell = remedyCell(row, request)
                    guard !cell.isEmpty else { return nil }
                    return JSONMember(request.label, .object([
                        JSONMember("seeds", .array(cell.map { .int(Int64($0.seed)) })),
                        JSONMember("ppl_ratio", .array(cell.map { .double($0.ratio) })),
                        JSONMember("resolved", .array(cell.map { .bool($0.resolved) })),
                    ]))
                })),
            ])
        })
    }
}
