import OLCore
import OLRuns
import OLTraining

/// One training run the audit needs, shared by every claim arm with the same config.
public struct PlannedRun: Sendable {
    /// The cache key: SHA-256 of the config JSON with the corpus replaced by its fingerprint.
    public var key: String
    public var config: TrainingConfig
    /// Quantised evaluations to run on the finished model.
    public var quantisations: Set<QuantRequest>
    /// "claim / arm / seed" of every use, for progress lines and the report.
    public var uses: [String]
    /// Predicted seconds on this machine (see `CostModel`).
    public var estimatedSeconds: Double

    /// The run directory relative to the audit's output folder.
    public var relativeDirectory: String { "runs/" + key }
}

/// Where one claim's arms get their runs: arm name → seed → run key.
public struct ClaimRuns: Sendable {
    public var claim: Claim
    public var seeds: [UInt64]
    public var runKeys: [String: [UInt64: String]]

    func renamingRuns(_ renamed: [String: String]) -> ClaimRuns {
        var copy = self
        copy.runKeys = runKeys.mapValues { $0.mapValues { renamed[$0] ?? $0 } }
        return copy
    }
}

/// The arms that share one best-lr choice: equal configs apart from the learning rate. Each sweep value
/// is trained on the calibration seed; the lowest validation loss picks the rate the confirming seeds use.
public struct LearningRateFamily: Sendable {
    /// SHA-256 of the family's config without `lr`, on the calibration seed.
    public var id: String
    /// "claim / arm" of every arm in the family.
    public var uses: [String]
    /// The calibration run of each sweep value, in increasing rate.
    public var calibration: [(rate: Double, key: String)]
    /// The rate the confirming seeds run at (nil until the calibration runs are judged).
    public var chosen: Double?

    func renamingRuns(_ renamed: [String: String]) -> LearningRateFamily {
        var copy = self
        copy.calibration = calibration.map { ($0.rate, renamed[$0.key] ?? $0.key) }
        return copy
    }

    /// The rate with the lowest validation loss among the finished calibration runs (ties: the smaller
    /// rate); nil when none finished.
    public func best(outcomes: [String: RunOutcome]) -> (rate: Double, loss: Double)? {
        var best: (rate: Double, loss: Double)?
        for (rate, key) in calibration {
            guard case .finished(let record, _)? = outcomes[key], let loss = record.summary["val_loss"]?.doubleValue, loss.isFinite else { continue }
            if best == nil || loss < best!.loss { best = (rate, loss) }
        }
        return best
    }
}

/// The runs of an audit at one scale, deduplicated across claims, in first-use order.
public struct AuditPlan: Sendable {
    public var scale: AuditScale
    public var corpus: AuditCorpus
    public var runs: [PlannedRun]
    /// Every claim of the registry (selected or not), in registry order.
    public var claims: [ClaimRuns]
    /// The quantisation study's runs (arm → seed → key) and its requests (nil without a study, or when
    /// `--claims` selects claims).
    public var study: ClaimRuns?
    public var studyRequests: [QuantRequest]
    /// Claims left out by scale or selection, with the reason.
    public var skipped: [String: String]
    /// SHA-256 of the registry the plan came from (printed in every report: the preregistration).
    public var registrySHA256: String
    /// The lr sweep's calibration seed, never a confirming seed.
    public var calibrationSeed: UInt64 { registry.calibrationSeed }
    /// The best-lr families and their calibration runs (which are also in `runs`).
    public var families: [LearningRateFamily]
    /// Confirming runs of best-lr arms not planned yet because their family's rate is not chosen, with
    /// their predicted seconds.
    public var pendingRuns: Int
    public var pendingSeconds: Double
    let registry: ClaimRegistry
    let selected: [String]?
    let costModel: CostModel

    public var estimatedSeconds: Double { runs.reduce(0) { $0 + $1.estimatedSeconds } + pendingSeconds }
    /// Whether every run is planned (every best-lr family has its rate).
    public var isResolved: Bool { pendingRuns == 0 }
    /// The calibration runs of the unresolved families.
    public var pendingCalibration: [PlannedRun] {
        let keys = Set(families.filter { $0.chosen == nil }.flatMap { $0.calibration.map(\.key) })
        return runs.filter { keys.contains($0.key) }
    }

    /// Expands the registry at `scale`; `selected` (claim ids) restricts it, unknown ids are an error.
    /// `chosenRates` (family id → rate) plans the confirming runs of best-lr arms; without it they are
    /// pending and only their calibration runs are planned.
    public init(registry: ClaimRegistry, scale: AuditScale, corpus: AuditCorpus, selected: [String]? = nil,
                costModel: CostModel = .measured, chosenRates: [String: Double] = [:]) throws {
        if let selected {
            let known = Set(registry.claims.map(\.id))
            for id in selected where !known.contains(id) {
                throw OutlierLabError("unknown claim '\(id)'; known claims: \(registry.claims.map(\.id).joined(separator: ", "))")
            }
        }
        guard registry.scales[scale] != nil else {
            throw OutlierLabError("the claims registry defines no '\(scale.rawValue)' scale (it has \(AuditScale.allCases.filter { registry.scales[$0] != nil }.map(\.rawValue).joined(separator: ", ")))")
        }
        self.scale = scale
        self.corpus = corpus
        self.registry = registry
        self.selected = selected
        self.costModel = costModel
        registrySHA256 = registry.sha256
        var builder = PlanBuilder(corpus: corpus, costModel: costModel)
        var claims: [ClaimRuns] = []
        var skipped: [String: String] = [:]
        let study = selected == nil ? registry.quantisationStudy : nil
        for claim in registry.claims + [study?.asClaim].compactMap({ $0 }) {
            let seeds = registry.seeds(claim: claim, scale: scale)
            var keys: [String: [UInt64: String]] = [:]
            let studyRequests = claim.id == study?.asClaim.id ? Set(study?.requests ?? []) : []
            if let selected, !selected.contains(claim.id) {
                skipped[claim.id] = "not selected with --claims"
            } else if seeds.isEmpty {
                let why = claim.scales[scale]?.why.map { ": " + $0 } ?? ""
                let elsewhere = AuditScale.allCases.filter { $0 != scale && !registry.seeds(claim: claim, scale: $0).isEmpty }.map(\.rawValue)
                skipped[claim.id] = "not run at the \(scale.rawValue) scale\(why)" + (elsewhere.isEmpty ? "" : " (run `olab audit --scale \(elsewhere[0])`)")
            } else {
                for arm in claim.arms {
                    let armKeys = try builder.plan(arm, of: claim, registry: registry, scale: scale, seeds: seeds,
                                                   extraRequests: studyRequests, chosenRates: chosenRates)
                    if !armKeys.isEmpty { keys[arm.name] = armKeys }
                }
            }
            claims.append(ClaimRuns(claim: claim, seeds: seeds, runKeys: keys))
        }
        let renamed = builder.finish()
        claims = claims.map { $0.renamingRuns(renamed) }
        if let study, let last = claims.last, last.claim.id == study.asClaim.id {
            self.study = claims.removeLast()
        } else {
            self.study = nil
        }
        studyRequests = study?.requests ?? []
        runs = builder.runs
        families = builder.families.map { $0.renamingRuns(renamed) }
        pendingRuns = builder.pending.count
        pendingSeconds = builder.pendingSeconds
        self.claims = claims
        self.skipped = skipped
    }

    /// The plan with every family's rate chosen from its finished calibration runs (`outcomes`).
    /// Throws, naming the family, when none of a family's calibration runs finished.
    public func resolved(outcomes: [String: RunOutcome]) throws -> AuditPlan {
        var chosen: [String: Double] = [:]
        for family in families {
            if let rate = family.chosen { chosen[family.id] = rate; continue }
            guard let best = family.best(outcomes: outcomes) else {
                throw OutlierLabError("no learning-rate calibration run of \(family.uses.joined(separator: ", ")) finished; cannot choose its rate")
            }
            chosen[family.id] = best.rate
        }
        return try AuditPlan(registry: registry, scale: scale, corpus: corpus, selected: selected, costModel: costModel, chosenRates: chosen)
    }
}

/// Collects an audit's runs, sharing equal configs across claims and arms.
///
/// The kurtosis-update decomposition is planned by need, not taken from the arms: it costs one probe
/// forward pass per training step (a third of a run's time on the audit's model) and changes nothing
/// the run trains, so a run computes it exactly when a claim that uses the run reads `u42_share` from
/// it. Runs are shared by their config without the decomposition, and a run gets it when any of its
/// uses needs it, whatever `kurtosis_decomposition` the arms set (<doc:Claims>, "Diagnostics by need").
private struct PlanBuilder {
    let corpus: AuditCorpus
    let costModel: CostModel
    var runs: [PlannedRun] = []
    var index: [String: Int] = [:]
    /// Keys (before `finish`) of the runs a use needs the decomposition from.
    var decomposed = Set<String>()
    var families: [LearningRateFamily] = []
    /// "family/seed" of every confirming run waiting for its family's rate.
    var pending = Set<String>()
    var pendingSeconds = 0.0

    init(corpus: AuditCorpus, costModel: CostModel) {
        self.corpus = corpus
        self.costModel = costModel
    }

    /// `config` as the planner keys it: without the decomposition (`ArmSpec.plannerKeys`), which `finish`
    /// sets by need.
    static func planned(_ config: TrainingConfig, decomposition: Bool = false) -> TrainingConfig {
        var config = config
        config.kurtosisDecomposition = decomposition
        return config
    }

    /// Adds a use of `config`'s run (planning the run on first use) and returns its provisional key;
    /// `decomposition`: the use reads the kurtosis-update decomposition.
    mutating func add(_ config: TrainingConfig, use: String, quantisations: Set<QuantRequest> = [], decomposition: Bool) -> String {
        let config = Self.planned(config)
        let key = RunSpec.cacheKey(config, corpusFingerprint: corpus.fingerprint)
        if decomposition { decomposed.insert(key) }
        if let existing = index[key] {
            runs[existing].quantisations.formUnion(quantisations)
            runs[existing].uses.append(use)
            runs[existing].estimatedSeconds = costModel.seconds(config, quantisedEvaluations: runs[existing].quantisations.count)
        } else {
            index[key] = runs.count
            runs.append(PlannedRun(key: key, config: config, quantisations: quantisations, uses: [use],
                                   estimatedSeconds: costModel.seconds(config, quantisedEvaluations: quantisations.count)))
        }
        return key
    }

    /// Turns the decomposition on in the runs a use needs it from, rekeys them and their estimates, and
    /// returns provisional key → final key for the runs whose key changed.
    mutating func finish() -> [String: String] {
        var renamed: [String: String] = [:]
        for i in runs.indices where decomposed.contains(runs[i].key) {
            let config = Self.planned(runs[i].config, decomposition: true)
            let key = RunSpec.cacheKey(config, corpusFingerprint: corpus.fingerprint)
            renamed[runs[i].key] = key
            runs[i].key = key
            runs[i].config = config
            runs[i].estimatedSeconds = costModel.seconds(config, quantisedEvaluations: runs[i].quantisations.count)
        }
        index = Dictionary(uniqueKeysWithValues: runs.indices.map { (runs[$0].key, $0) })
        decomposed = []
        return renamed
    }

    /// Plans the runs of one arm of `claim` at every seed and returns their keys by seed (empty while a
    /// best-lr arm's rate is not chosen: its runs are counted as pending).
    mutating func plan(_ arm: ArmSpec, of claim: Claim, registry: ClaimRegistry, scale: AuditScale, seeds: [UInt64],
                       extraRequests: Set<QuantRequest>, chosenRates: [String: Double]) throws -> [UInt64: String] {
        let first = try registry.config(claim: claim, arm: arm, scale: scale, seed: seeds[0], corpus: corpus.path)
        let preconditionMetrics = claim.preconditions.filter { $0.arm == arm.name }.map(\.metric)
        let metrics = [claim.metric, claim.against].compactMap { $0 } + preconditionMetrics
        let requests = Set(metrics.flatMap { $0.quantRequests(layers: first.model.layers) }).union(extraRequests)
        let decomposition = metrics.contains { $0.source == .series(RunRecord.u42ShareKey) }
        var rate: Double?
        if arm.bestLearningRate, let sweep = registry.learningRateSweep {
            let family = try family(registry: registry, claim: claim, arm: arm, scale: scale, sweep: sweep, chosenRates: chosenRates)
            guard let chosen = family.chosen else {
                for seed in seeds where pending.insert("\(family.id)/\(seed)").inserted {
                    pendingSeconds += costModel.seconds(Self.planned(first, decomposition: decomposition))
                }
                return [:]
            }
            rate = chosen
        }
        var keys: [UInt64: String] = [:]
        for seed in seeds {
            let config = try registry.config(claim: claim, arm: arm, scale: scale, seed: seed, corpus: corpus.path, lr: rate)
            keys[seed] = add(config, use: "\(claim.id) / \(arm.name) / seed \(seed)", quantisations: requests, decomposition: decomposition)
        }
        return keys
    }

    /// The family of a best-lr arm, with its calibration runs planned.
    mutating func family(registry: ClaimRegistry, claim: Claim, arm: ArmSpec, scale: AuditScale, sweep: LearningRateSweep,
                         chosenRates: [String: Double]) throws -> LearningRateFamily {
        let base = Self.planned(try registry.config(claim: claim, arm: arm, scale: scale, seed: sweep.calibrationSeed, corpus: corpus.path))
        let withoutRate = JSONValue.object((base.json.objectMembers ?? []).filter { $0.key != "lr" && $0.key != "corpus" })
        let id = SHA256.hex(Array((withoutRate.serialized() + corpus.fingerprint).utf8))
        let use = "\(claim.id) / \(arm.name)"
        if let existing = families.firstIndex(where: { $0.id == id }) {
            families[existing].uses.append(use)
            return families[existing]
        }
        var calibration: [(rate: Double, key: String)] = []
        for rate in sweep.values {
            let config = try registry.config(claim: claim, arm: arm, scale: scale, seed: sweep.calibrationSeed, corpus: corpus.path, lr: rate)
            // Calibration runs only choose the rate (validation loss): no claim reads their decomposition.
            calibration.append((rate, add(config, use: "lr calibration / \(arm.name) / lr \(formatNumber(rate)) / seed \(sweep.calibrationSeed)",
                                          decomposition: false)))
        }
        let family = LearningRateFamily(id: id, uses: [use], calibration: calibration, chosen: chosenRates[id])
        families.append(family)
        return family
    }
}
