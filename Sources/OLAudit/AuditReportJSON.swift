import OLCore
import OLMetrics
import OLTraining

/// A finite number, or null (JSON has no nan or inf).
private func number(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .null }

/// [low, high], or null without an interval.
private func interval(_ range: ClosedRange<Double>?) -> JSONValue {
    range.map { .array([number($0.lowerBound), number($0.upperBound)]) } ?? .null
}

/// `report.json` (every number the report shows) and the `--dry-run` listing.
extension AuditReport {
    func json() -> JSONValue {
        let blas = BLASInfo.current
        return .object([
            JSONMember("harness_version", .string(Harness.version)),
            JSONMember("scale", .string(plan.scale.rawValue)),
            JSONMember("corpus", .object([
                JSONMember("path", .string(plan.corpus.path)),
                JSONMember("sha256", .string(plan.corpus.fingerprint)),
                JSONMember("description", .string(plan.corpus.description)),
                JSONMember("fallback", plan.corpus.fallbackNote.map(JSONValue.string) ?? .null),
            ])),
            JSONMember("blas", blas.json),
            JSONMember("registry_sha256", .string(plan.registrySHA256)),
            JSONMember("wall_time_s", .double(wallSeconds)),
            JSONMember("runs_wall_time_s", .double(runsWallSeconds)),
            JSONMember("learning_rate_selection", .array(plan.families.map(familyJSON))),
            JSONMember("quantisation_study", .array(studyCells().map { cell in
                .object([
                    JSONMember("arm", .string(cell.arm)), JSONMember("request", cell.request.json),
                    JSONMember("ppl_ratios", .array(cell.ratios.map(number))), JSONMember("mean", number(Statistics.mean(cell.ratios))),
                    JSONMember("mean_interval_95", interval(Statistics.tInterval(cell.ratios))),
                    JSONMember("resolved_seeds", .int(Int64(cell.resolved))),
                ])
            })),
            JSONMember("remedies", remediesJSON()),
            JSONMember("estimated_s", .double(plan.estimatedSeconds)),
            JSONMember("paper_headline_opt125m", .array(Self.paperHeadline.map {
                .object(["arm": .string($0.0), "float_ppl": .string($0.1), "w8a8_ppl": .string($0.2), "status": "quoted from the paper, not reproduced"])
            })),
            JSONMember("claims", .array(results.map(claimJSON))),
            JSONMember("runs", .array(plan.runs.map(runJSON))),
        ])
    }

    private func familyJSON(_ family: LearningRateFamily) -> JSONValue {
        .object([
            JSONMember("arms", .array(family.uses.map(JSONValue.string))),
            JSONMember("calibration", .array(family.calibration.map { entry in
                .object(["lr": .double(entry.rate), "run": .string("runs/" + entry.key),
                         "val_loss": record(entry.key)?.summary["val_loss"].map { $0 } ?? .null])
            })),
            JSONMember("chosen_lr", family.chosen.map(JSONValue.double) ?? .null),
        ])
    }

    private func claimJSON(_ result: ClaimResult) -> JSONValue {
        let claim = result.claim
        func perSeed(_ values: [UInt64: Double]) -> JSONValue {
            .object(values.keys.sorted().map { JSONMember(String($0), number(values[$0]!)) })
        }
        return .object([
            JSONMember("id", .string(claim.id)),
            JSONMember("statement", .string(claim.statement)),
            JSONMember("paper", .string(claim.paperLocation)),
            JSONMember("paper_says", .string(claim.paperSays)),
            JSONMember("origin", {
                switch claim.origin {
                case .paper: return .object(["kind": "paper", "where": .string(claim.paperLocation)])
                case .extension(let why): return .object(["kind": "extension", "extends": .string(claim.paperLocation), "why": .string(why)])
                }
            }()),
            JSONMember("metric", .string(claim.metric.label)),
            JSONMember("against", claim.against.map { .string($0.label) } ?? .null),
            JSONMember("predicate", .object([
                JSONMember("statistic", .string(claim.predicate.statisticName)),
                JSONMember("comparison", .string(claim.predicate.comparison.text)),
                JSONMember("threshold", .double(claim.predicate.comparison.threshold)),
            ])),
            JSONMember("verdict", .string(result.judgement.verdict.rawValue)),
            JSONMember("reason", .string(result.judgement.reason)),
            JSONMember("preconditions", .array(result.judgement.preconditions.map { check in
                .object([
                    JSONMember("kind", .string(check.precondition.kind.rawValue)),
                    JSONMember("arm", .string(check.precondition.arm)),
                    JSONMember("metric", .string(check.precondition.metric.label)),
                    JSONMember("comparison", .string(check.precondition.comparison.text)),
                    JSONMember("measured", number(check.measured)),
                    JSONMember("seeds", .int(Int64(check.seeds))),
                    JSONMember("unresolved_seeds", .int(Int64(check.unresolvedSeeds))),
                    JSONMember("met", .bool(check.met)),
                    JSONMember("text", .string(check.text)),
                ])
            })),
            JSONMember("statistic", number(result.judgement.statistic)),
            JSONMember("seed_statistics", .array(result.judgement.seedStatistics.map(number))),
            JSONMember("interval_95", interval(result.judgement.interval)),
            JSONMember("interval_method", "student-t over the per-seed statistics"),
            JSONMember("permutation_p", result.judgement.pValue.map(number) ?? .null),
            JSONMember("test_p", result.judgement.testP.map(number) ?? .null),
            JSONMember("holm_p", result.judgement.holmP.map(number) ?? .null),
            JSONMember("holds_after_holm", result.judgement.holdsAfterHolm.map(JSONValue.bool) ?? .null),
            JSONMember("seeds", .array(result.seeds.map { .int(Int64($0)) })),
            JSONMember("arms", .array(result.arms.map { arm in
                .object([
                    JSONMember("name", .string(arm.name)),
                    JSONMember("config", .object(claim.arm(named: arm.name)?.reportedConfig ?? [])),
                    JSONMember("values", perSeed(arm.values)),
                    JSONMember("mean", number(arm.mean)),
                    JSONMember("mean_interval_95", interval(Statistics.tInterval(result.seeds.compactMap { arm.values[$0] }))),
                    JSONMember("sd", number(arm.standardDeviation)),
                    JSONMember("against_values", perSeed(arm.againstValues)),
                    JSONMember("runs", .object(arm.runDirectories.keys.sorted().map { JSONMember(String($0), .string(arm.runDirectories[$0]!)) })),
                    JSONMember("failures", .array(arm.failures.map(JSONValue.string))),
                ])
            })),
        ])
    }

    private func runJSON(_ run: PlannedRun) -> JSONValue {
        var members = [
            JSONMember("key", .string(run.key)),
            JSONMember("directory", .string(run.relativeDirectory)),
            JSONMember("uses", .array(run.uses.map(JSONValue.string))),
            JSONMember("estimated_s", .double(run.estimatedSeconds)),
            JSONMember("config", run.config.json),
        ]
        switch outcomes[run.key] {
        case .finished(let record, let cached)?:
            members.append(JSONMember("status", .string(cached ? "cached" : "trained")))
            members.append(JSONMember("summary", record.summary))
            members.append(JSONMember("quantised", .array(record.quantised.keys.sorted().map { request in
                let q = record.quantised[request]!
                return .object((request.json.objectMembers ?? []) + [
                    JSONMember("float_ppl", number(q.floatPPL)), JSONMember("quantised_ppl", number(q.quantisedPPL)),
                    JSONMember("delta_ppl_ci95", interval(q.deltaInterval)),
                ])
            })))
        case .failed(let message)?:
            members.append(JSONMember("status", .string("failed")))
            members.append(JSONMember("error", .string(message)))
        case nil: members.append(JSONMember("status", .string("not run")))
        }
        return .object(members)
    }

    /// What `--dry-run` prints: every run with its uses and estimated cost, cache hits marked.
    public static func dryRunListing(_ plan: AuditPlan, outDirectory: String) -> String {
        var lines = ["audit plan (\(plan.scale.rawValue) scale), corpus: \(plan.corpus.description)"]
        if let note = plan.corpus.fallbackNote { lines.append("note: \(note)") }
        var pending = 0.0
        for (index, run) in plan.runs.enumerated() {
            let cached = FilePath.exists(outDirectory + "/" + run.relativeDirectory + "/summary.json")
            if !cached { pending += run.estimatedSeconds }
            let c = run.config
            lines.append("\(index + 1). \(run.key.prefix(12)) \(runLabel(run)) d=\(c.model.width) L=\(c.model.layers) T=\(c.model.seq) B=\(c.batch) steps=\(c.steps) seed=\(c.seed) ~\(NumberText.duration(run.estimatedSeconds))\(cached ? " (cached)" : "")")
            lines.append("     " + run.uses.joined(separator: "; ") + (run.quantisations.isEmpty ? "" : "; then " + run.quantisations.sorted().map(\.label).joined(separator: ", ")))
        }
        for claim in plan.claims {
            if let reason = plan.skipped[claim.claim.id] { lines.append("skipped \(claim.claim.id): \(reason)") }
        }
        if !plan.isResolved {
            lines.append("+ \(plan.pendingRuns) confirming runs of best-lr arms, planned once the calibration runs above have chosen their rates (~\(NumberText.duration(plan.pendingSeconds)))")
            pending += plan.pendingSeconds
        }
        lines.append("\(plan.runs.count + plan.pendingRuns) runs, estimated \(NumberText.duration(plan.estimatedSeconds)) of one core in total, \(NumberText.duration(pending)) not yet cached")
        return lines.joined(separator: "\n")
    }
}
