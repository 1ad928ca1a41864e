import OLCore
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
}

/// The runs of an audit at one scale, deduplicated across claims, in first-use order.
public struct AuditPlan: Sendable {
    public var scale: AuditScale
    public var corpus: AuditCorpus
    public var runs: [PlannedRun]
    /// Every claim of the registry (selected or not), in registry order.
    public var claims: [ClaimRuns]
    /// Claims left out by scale or selection, with the reason.
    public var skipped: [String: String]
    /// SHA-256 of the registry the plan came from (printed in every report: the preregistration).
    public var registrySHA256: String

    public var estimatedSeconds: Double { runs.reduce(0) { $0 + $1.estimatedSeconds } }

    /// The cache key of a config: equal configs on equal corpus bytes share one run.
    public static func cacheKey(_ config: TrainingConfig, corpusFingerprint: String) -> String {
        guard let members = config.json.objectMembers else { return SHA256.hex(Array(config.json.serialized().utf8)) }
        let keyed = JSONValue.object(members.map { $0.key == "corpus" ? JSONMember("corpus", .string(corpusFingerprint)) : $0 })
        return SHA256.hex(Array(keyed.serialized().utf8))
    }

    /// Expands the registry at `scale`; `selected` (claim ids) restricts it, unknown ids are an error.
    public init(registry: ClaimRegistry, scale: AuditScale, corpus: AuditCorpus, selected: [String]? = nil,
                costModel: CostModel = .measured) throws {
        if let selected {
            let known = Set(registry.claims.map(\.id))
            for id in selected where !known.contains(id) {
                throw OutlierLabError("unknown claim '\(id)'; known claims: \(registry.claims.map(\.id).joined(separator: ", "))")
            }
        }
        self.scale = scale
        self.corpus = corpus
        registrySHA256 = registry.sha256
        var runs: [PlannedRun] = []
        var index: [String: Int] = [:]
        var claims: [ClaimRuns] = []
        var skipped: [String: String] = [:]
        for claim in registry.claims {
            let seeds = registry.seeds(claim: claim, scale: scale)
            var keys: [String: [UInt64: String]] = [:]
            if let selected, !selected.contains(claim.id) {
                skipped[claim.id] = "not selected with --claims"
            } else if seeds.isEmpty {
                skipped[claim.id] = "not run at the \(scale.rawValue) scale (run `olab audit --full`)"
            } else {
                let requests = Set([claim.metric.quantRequest, claim.against?.quantRequest].compactMap { $0 })
                for arm in claim.arms {
                    for seed in seeds {
                        let config = try registry.config(claim: claim, arm: arm, scale: scale, seed: seed, corpus: corpus.path)
                        let key = Self.cacheKey(config, corpusFingerprint: corpus.fingerprint)
                        let use = "\(claim.id) / \(arm.name) / seed \(seed)"
                        if let existing = index[key] {
                            runs[existing].quantisations.formUnion(requests)
                            runs[existing].uses.append(use)
                        } else {
                            index[key] = runs.count
                            runs.append(PlannedRun(key: key, config: config, quantisations: requests, uses: [use],
                                                   estimatedSeconds: costModel.seconds(config)))
                        }
                        keys[arm.name, default: [:]][seed] = key
                    }
                }
            }
            claims.append(ClaimRuns(claim: claim, seeds: seeds, runKeys: keys))
        }
        self.runs = runs
        self.claims = claims
        self.skipped = skipped
    }
}

/// Predicted time of a run on one core from its size, so `--dry-run` and progress ETAs mean something
/// before any run finishes. Multiply-adds per training step ≈ 3 × (forward matmuls + attention); metrics at
/// each log add a d×d Gram per tap on the probe batch. The rates are measured on the development machine.
public struct CostModel: Sendable {
    /// Multiply-adds per second of one single-threaded run while another runs beside it on the second
    /// core (the local backend's default). Measured 2026-12-01 on the quick audit: AdamW-family runs at
    /// d=64, T=64, B=16, 600 steps took 14–22 s each, predicted 17 s.
    public var trainingRate: Double
    /// Extra factor for optimisers with eigenbases (SOAP, rotated AdaFactor): 20–23 s for the same runs.
    public var rotatedFactor: Double

    public static let measured = CostModel(trainingRate: 2.7e10, rotatedFactor: 1.3)

    public func seconds(_ config: TrainingConfig) -> Double {
        let d = Double(config.model.width), L = Double(config.model.layers), T = Double(config.model.seq)
        let vocab = Double(config.model.vocab)
        func forward(rows: Double) -> Double { rows * (L * (12 * d * d + 2 * T * d) + vocab * d) }
        var macs = 3 * forward(rows: Double(config.batch) * T) * Double(config.steps)
        let logs = Double(config.steps / config.logEvery + 1)
        let probeRows = Double(config.probeBatch) * T
        macs += logs * (forward(rows: probeRows) + (config.metrics ? (L + 1) * probeRows * d * d : 0))
        let optimiser = ["soap", "rotated-adafactor"].contains(config.optimizer) ? rotatedFactor : 1
        return macs * optimiser / trainingRate
    }
}
