import OLCore
import OLMetrics
import OLRuns

/// One arm of a judged claim: its value per seed and where each run lives.
public struct ArmResult: Sendable {
    public var name: String
    /// Per seed, the metric value (nil when the run failed).
    public var values: [UInt64: Double]
    /// Per seed, the `against` metric value of a correlation claim.
    public var againstValues: [UInt64: Double]
    /// Per seed, the run directory relative to the output folder.
    public var runDirectories: [UInt64: String]
    public var failures: [String]
    /// Per seed, for a quantised metric: whether any of the run's measurements resolves its effect (a
    /// Δppl interval over evaluation windows that excludes 0); absent when the evaluator gave no interval.
    public var quantisationResolved: [UInt64: Bool] = [:]
    /// Per precondition of the claim (by index) that reads this arm: its value per seed.
    public var preconditionValues: [Int: [UInt64: Double]] = [:]
    /// Per precondition (by index), per seed: whether a positive control's Δppl interval excludes 0.
    public var preconditionResolved: [Int: [UInt64: Bool]] = [:]

    public var mean: Double { Statistics.mean(values.values.sorted()) }
    public var standardDeviation: Double { Statistics.standardDeviation(values.values.sorted()) }
    public var againstMean: Double { Statistics.mean(againstValues.values.sorted()) }
}

/// A claim with its measurements and verdict.
public struct ClaimResult: Sendable {
    public var claim: Claim
    public var seeds: [UInt64]
    public var arms: [ArmResult]
    public var judgement: Judgement
}

/// Judges every claim of a plan from the runs' outcomes (or from records supplied directly, as tests do).
public enum AuditJudging {
    /// Every claim's verdict, then Holm–Bonferroni over the paper's claims (`Judgement.holmP`).
    public static func judge(plan: AuditPlan, outcomes: [String: RunOutcome]) -> [ClaimResult] {
        withHolm(plan.claims.map { claimRuns in
            let claim = claimRuns.claim
            guard !claimRuns.runKeys.isEmpty else {
                return ClaimResult(claim: claim, seeds: [], arms: [], judgement: Judgement(
                    verdict: .notRun, statistic: .nan, seedStatistics: [], reason: plan.skipped[claim.id] ?? "not run"))
            }
            var arms: [ArmResult] = []
            for arm in claim.arms {
                var result = ArmResult(name: arm.name, values: [:], againstValues: [:], runDirectories: [:], failures: [])
                let metrics = [claim.metric, claim.against].compactMap { $0 }.filter(\.isQuantised)
                for seed in claimRuns.seeds {
                    guard let key = claimRuns.runKeys[arm.name]?[seed] else { continue }
                    result.runDirectories[seed] = "runs/" + key
                    switch outcomes[key] {
                    case .finished(let record, _)?:
                        do {
                            result.values[seed] = try claim.metric.value(in: record)
                            if let against = claim.against { result.againstValues[seed] = try against.value(in: record) }
                            let layers = record.config["layers"]?.intValue ?? 0
                            let resolved = metrics.flatMap { $0.quantRequests(layers: layers) }.compactMap { record.quantised[$0]?.isResolved }
                            if !resolved.isEmpty { result.quantisationResolved[seed] = resolved.contains(true) }
                            for (index, condition) in claim.preconditions.enumerated() where condition.arm == arm.name {
                                result.preconditionValues[index, default: [:]][seed] = try condition.metric.value(in: record)
                                if let flag = condition.metric.isResolved(in: record) { result.preconditionResolved[index, default: [:]][seed] = flag }
                            }
                        } catch let error as OutlierLabError {
                            result.failures.append("\(arm.name) seed \(seed): \(error.message)")
                        } catch {
                            result.failures.append("\(arm.name) seed \(seed): \(error)")
                        }
                    case .failed(let message)?: result.failures.append("\(arm.name) seed \(seed): \(message)")
                    case nil: result.failures.append("\(arm.name) seed \(seed): no outcome for run \(key)")
                    }
                }
                arms.append(result)
            }
            return judge(claim: claim, seeds: claimRuns.seeds, arms: arms)
        })
    }

    /// The results with `holmP` set on the paper's claims: one family per audit, extensions left out.
    public static func withHolm(_ results: [ClaimResult]) -> [ClaimResult] {
        var judgements = Dictionary(uniqueKeysWithValues: results.map { ($0.claim.id, $0.judgement) })
        Judge.holm(&judgements, family: results.filter(\.claim.origin.isPaper).map(\.claim.id))
        return results.map { result in
            var result = result
            result.judgement = judgements[result.claim.id] ?? result.judgement
            return result
        }
    }

    /// The verdict for measured arm values, by the claim's predicate.
    public static func judge(claim: Claim, seeds: [UInt64], arms: [ArmResult]) -> ClaimResult {
        let names = arms.map(\.name)
        let seedValues = seeds.map { seed in Dictionary(uniqueKeysWithValues: arms.compactMap { arm in arm.values[seed].map { (arm.name, $0) } }) }
        let seedAgainst = seeds.map { seed in Dictionary(uniqueKeysWithValues: arms.compactMap { arm in arm.againstValues[seed].map { (arm.name, $0) } }) }
        var judgement = Judge.judge(claim.predicate, arms: names, seedValues: seedValues,
                                    seedAgainst: claim.against == nil ? [] : seedAgainst, failures: arms.flatMap(\.failures))
        let resolution = arms.flatMap(\.quantisationResolved.values)
        if !resolution.isEmpty, !resolution.contains(true), [.held, .notReproduced].contains(judgement.verdict) {
            judgement.verdict = .inconclusive
            judgement.reason += "; but below the measurement's resolution: no run's quantised − float perplexity has a 95 % interval over evaluation windows that excludes 0, so the arms' differences are not resolved"
        }
        return ClaimResult(claim: claim, seeds: seeds, arms: arms, judgement: checkingPreconditions(claim, seeds: seeds, arms: arms, judgement))
    }

    /// The judgement with the claim's preconditions checked: when one fails (and no run failed), the claim
    /// is untestable at this scale whatever its predicate read, and it leaves the Holm family (no test
    /// was made). The predicate's reading stays in the reason, marked as not judged.
    static func checkingPreconditions(_ claim: Claim, seeds: [UInt64], arms: [ArmResult], _ judgement: Judgement) -> Judgement {
        var judgement = judgement
        judgement.preconditions = claim.preconditions.enumerated().compactMap { index, condition in
            guard let arm = arms.first(where: { $0.name == condition.arm }) else { return nil }
            let values = seeds.compactMap { arm.preconditionValues[index]?[$0] }
            guard !values.isEmpty else { return nil }
            return condition.check(values: values, resolved: seeds.compactMap { arm.preconditionResolved[index]?[$0] })
        }
        let failed = judgement.preconditions.filter { !$0.met }
        guard !failed.isEmpty, arms.allSatisfy(\.failures.isEmpty) else { return judgement }
        judgement.verdict = .untestable
        judgement.testP = nil
        judgement.holmP = nil
        judgement.reason = "precondition failed — " + failed.map(\.text).joined(separator: "; ")
            + "; the predicate is not judged (it read: \(judgement.reason))"
        return judgement
    }
}
