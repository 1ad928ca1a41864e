import Foundation
import OLCore
import OLRuns
import OLTraining

/// How large the audit's experiments are: `quick` judges the core claims in about a quarter of an hour on
/// two cores, `full` runs every claim with at least eight seeds, `regime` trains 12,500 steps (≈ 12.8 M
/// tokens, the outlier regime of issue 28) and judges the quantisation claims where their effects are
/// resolved. A registry must define `quick` and `full`; `regime` is optional.
public enum AuditScale: String, Sendable, CaseIterable {
    case quick, full, regime

    /// The scales every registry defines.
    public static let required: [AuditScale] = [.quick, .full]
}

/// One experiment arm of a claim: a named partial `TrainingConfig` merged over the registry's base.
public struct ArmSpec: Sendable, Equatable {
    public var name: String
    /// Config keys this arm sets (a JSON object of `TrainingConfig` keys).
    public var config: [JSONMember]
    /// The arm runs at its own best learning rate from the registry's `lr_sweep`, chosen on the
    /// calibration seed (registry JSON: `"lr": "best"` beside `config`).
    public var bestLearningRate = false

    public init(name: String, config: [JSONMember], bestLearningRate: Bool = false) {
        self.name = name
        self.config = config
        self.bestLearningRate = bestLearningRate
    }

    /// Config keys the planner decides whatever an arm says (the kurtosis-update decomposition: computed
    /// on a run exactly when a claim reads it, see `AuditPlan`).
    public static let plannerKeys: Set<String> = ["kurtosis_decomposition"]

    /// The arm's config as reports show it: without `plannerKeys`, which would misstate what its runs did.
    public var reportedConfig: [JSONMember] { config.filter { !Self.plannerKeys.contains($0.key) } }
}

/// The quantisation study (a report section, not a verdict): every scheme and bit width on a few arms,
/// W-only against A-only, so a degradation can be split into what the weights and what the
/// activations cost.
public struct QuantisationStudy: Sendable, Equatable {
    public var arms: [ArmSpec]
    public var requests: [QuantRequest]
    /// The study as a claim-shaped value, so its arms expand (and share runs) exactly as a claim's do.
    var asClaim: Claim {
        Claim(id: "quantisation-study", statement: "", paperLocation: "", paperSays: "", origin: .paper, arms: arms,
              metric: MetricSpec(source: .summary("val_loss")), against: nil,
              predicate: Predicate(kind: .value(arms: []), comparison: .atLeast(0)), scales: [:])
    }
}

/// The small learning-rate sweep behind `"lr": "best"` arms (<doc:Claims>: architecture and optimiser
/// comparisons at each arm's best rate): every value is trained on the calibration seed, the rate with
/// the lowest validation loss wins (ties: the smaller rate), and the confirming seeds run at it. The
/// calibration seed is never a confirming seed, so choosing the rate cannot favour the seeds that judge.
public struct LearningRateSweep: Sendable, Equatable {
    public var values: [Double]
    public var calibrationSeed: UInt64
}

/// Config overrides and seeds of one scale, for the whole registry or for one claim.
public struct ScaleSpec: Sendable, Equatable {
    public var config: [JSONMember] = []
    /// nil: inherit the registry scale's seeds.
    public var seeds: [UInt64]?
    /// Instead of `seeds`: this many confirming seeds derived from the registry's SHA-256
    /// (`ClaimRegistry.derivedSeeds`), so a changed registry confirms on fresh seeds.
    public var confirmingSeeds: Int?
    /// false: the claim is not run at this scale (reported as such); on a registry scale, only the
    /// claims that name the scale in their own `scales` run there.
    public var included = true
    /// Why the claim is not run at this scale (registry `"why"`), said in the report.
    public var why: String?
}

/// One paper claim as data: what the paper says, the arms that test it, what is measured and the
/// predicate that turns the measurement into a verdict.
public struct Claim: Sendable, Equatable {
    public var id: String
    public var statement: String
    /// Where in the paper (section, figure or table).
    public var paperLocation: String
    /// What the paper reports, quoted beside our measurement; never claimed as reproduced.
    public var paperSays: String
    /// Whether the claim is the paper's or ours; the report keeps them in separate sections, and only the
    /// paper's claims form the Holm–Bonferroni family.
    public var origin: ClaimOrigin
    public var arms: [ArmSpec]
    public var metric: MetricSpec
    /// The second metric of a rank-correlation predicate (x = `metric`, y = `against`).
    public var against: MetricSpec?
    public var predicate: Predicate
    public var scales: [AuditScale: ScaleSpec]
    /// Checked before the predicate; a failed one makes the claim untestable at this scale.
    public var preconditions: [ClaimPrecondition] = []

    public func arm(named name: String) -> ArmSpec? { arms.first { $0.name == name } }
}

/// Where a claim comes from (registry `"origin": {"kind": "paper"}` or `{"kind": "extension", "why": …}`).
public enum ClaimOrigin: Sendable, Equatable {
    /// A claim the paper makes (its figure, table or section is the claim's `paper`).
    case paper
    /// A claim or control we added, with why; `paper` names what it extends.
    case `extension`(why: String)

    public var isPaper: Bool { self == .paper }
    public var kind: String { isPaper ? "paper" : "extension" }
}

/// The claims registry (`claims.json`): a base config, per-scale overrides and seeds, and the claims.
public struct ClaimRegistry: Sendable, Equatable {
    public var base: [JSONMember]
    public var scales: [AuditScale: ScaleSpec]
    public var claims: [Claim]
    /// The sweep `"lr": "best"` arms choose from (nil when no arm does).
    public var learningRateSweep: LearningRateSweep?
    public var quantisationStudy: QuantisationStudy?
    /// SHA-256 of the registry as read (the file's bytes): the report prints it, so a reader can check
    /// that arms and thresholds were fixed before the confirming seeds ran.
    public var sha256: String

    /// The registry shipped with OutlierLab. The resource is looked up beside the executable first (an
    /// installed `olab` carries its resource bundle), then in the build's bundle.
    public static func bundled() throws -> ClaimRegistry {
        try load(try bundledPath())
    }

    /// Where the bundled registry is.
    public static func bundledPath() throws -> String {
        let name = "claims"
        let beside = Bundle.main.bundleURL.appendingPathComponent("OutlierLab_OLAudit.resources/\(name).json").path
        let path = FilePath.exists(beside) ? beside : Bundle.module.url(forResource: name, withExtension: "json")?.path
        guard let path else { throw OutlierLabError("the bundled claims registry (\(name).json) is missing from this build; pass --registry PATH") }
        return path
    }

    public static func load(_ path: String) throws -> ClaimRegistry {
        let bytes = try FileBytes.read(path)
        return try ClaimRegistry(json: try JSONValue.parse(bytes: bytes, source: path), source: path, sha256: SHA256.hex(bytes))
    }

    /// Parses and checks a registry: every arm's merged config must be a valid `TrainingConfig` at every
    /// scale, every arm a predicate names must exist, ids must be unique.
    /// `sha256` defaults to the digest of the JSON as serialised here (registries built in code).
    public init(json: JSONValue, source: String = "claims registry", sha256: String? = nil) throws {
        do {
            try self.init(checkedJSON: json, source: source, sha256: sha256)
        } catch let error as OutlierLabError {
            throw OutlierLabError(error.message.escapingControlCharacters)
        }
    }

    /// `body`'s errors with the registry's name in front, so every error of a registry starts with it.
    private func named<T>(_ source: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
    }

    /// The parse itself; the public initialiser escapes control characters in every error it throws.
    private init(checkedJSON json: JSONValue, source: String, sha256: String?) throws {
        self.sha256 = sha256 ?? SHA256.hex(Array(json.serialized().utf8))
        let reader = JSONReader(source: source)
        base = try reader.object(json, "base")
        var scales: [AuditScale: ScaleSpec] = [:]
        let scaleObject = try reader.object(json, "scales")
        for scale in AuditScale.allCases {
            guard let value = scaleObject.first(where: { $0.key == scale.rawValue })?.value else {
                if AuditScale.required.contains(scale) { throw OutlierLabError("\(source): scales.\(scale.rawValue) is missing") }
                continue
            }
            let spec = try reader.scale(value, "scales.\(scale.rawValue)")
            guard !(spec.seeds ?? []).isEmpty || (spec.confirmingSeeds ?? 0) > 0 else {
                throw OutlierLabError("\(source): scales.\(scale.rawValue) must list at least one seed (seeds) or derive some (confirming_seeds)")
            }
            scales[scale] = spec
        }
        self.scales = scales
        guard let claimValues = json["claims"]?.arrayValue else { throw OutlierLabError("\(source): 'claims' must be an array") }
        claims = try claimValues.enumerated().map { index, value in try reader.claim(value, "claims[\(index)]") }
        learningRateSweep = try json["lr_sweep"].map { try reader.learningRateSweep($0) }
        quantisationStudy = try json["quantisation_study"].map { try reader.quantisationStudy($0) }
        var seen = Set<String>()
        for claim in claims where !seen.insert(claim.id).inserted {
            throw OutlierLabError("\(source): claim id '\(claim.id)' appears twice")
        }
        for claim in claims + [quantisationStudy?.asClaim].compactMap({ $0 }) {
            for scale in AuditScale.allCases {
                for arm in claim.arms {
                    if arm.bestLearningRate {
                        guard let sweep = learningRateSweep else {
                            throw OutlierLabError("\(source): claim \(claim.id), arm '\(arm.name)' asks for the best lr but the registry has no lr_sweep")
                        }
                        if arm.config.contains(where: { $0.key == "lr" }) {
                            throw OutlierLabError("\(source): claim \(claim.id), arm '\(arm.name)' sets lr and asks for the best lr; choose one")
                        }
                        if seeds(claim: claim, scale: scale).contains(sweep.calibrationSeed) {
                            throw OutlierLabError("\(source): claim \(claim.id) confirms on seed \(sweep.calibrationSeed), the lr sweep's calibration seed; they must differ")
                        }
                        for rate in sweep.values {
                            _ = try named(source) { try config(claim: claim, arm: arm, scale: scale, seed: 0, corpus: "synthetic", lr: rate) }
                        }
                    } else {
                        _ = try named(source) { try config(claim: claim, arm: arm, scale: scale, seed: 0, corpus: "synthetic") }
                    }
                }
            }
        }
    }

    /// Seeds of `claim` at `scale`; empty when the claim is not run at that scale or the registry has
    /// no such scale.
    public func seeds(claim: Claim, scale: AuditScale) -> [UInt64] {
        // A registry scale with `"run": false` runs only the claims that name it in their own scales.
        guard let registryScale = scales[scale], let own = claim.scales[scale] ?? (registryScale.included ? ScaleSpec() : nil),
              own.included else { return [] }
        for spec in [own, registryScale] {
            if let seeds = spec.seeds { return seeds }
            if let count = spec.confirmingSeeds { return derivedSeeds(count: count) }
        }
        return []
    }

    /// The learning-rate sweep's calibration seed (0 without a sweep): never a confirming seed.
    public var calibrationSeed: UInt64 { learningRateSweep?.calibrationSeed ?? 0 }

    /// `count` confirming seeds derived from the registry's SHA-256: seed i is the first 8 hex digits of
    /// SHA-256("<registry sha256>/confirming-seed/<i>") modulo 10⁶, skipping the calibration seed and
    /// repeats. Any change to the registry (a threshold, an arm, a step count) changes every seed, so a
    /// changed registry is confirmed on seeds that did not see the previous version; the same registry
    /// always gets the same seeds. Seeds are a prefix of one sequence, so the quick scale's are the
    /// first of the full scale's.
    public func derivedSeeds(count: Int) -> [UInt64] {
        var seeds: [UInt64] = []
        var index = 0
        while seeds.count < count {
            let digest = SHA256.hex(Array("\(sha256)/confirming-seed/\(index)".utf8))
            let seed = (UInt64(digest.prefix(8), radix: 16) ?? UInt64(index)) % 1_000_000
            if seed != calibrationSeed && !seeds.contains(seed) { seeds.append(seed) }
            index += 1
        }
        return seeds
    }

    /// The arm's full config: base, then the registry scale, the claim's scale, the arm, the seed and the
    /// corpus, later keys winning.
    /// `lr`, when given, is set last (a best-lr arm's sweep value or chosen rate).
    public func config(claim: Claim, arm: ArmSpec, scale: AuditScale, seed: UInt64, corpus: String, lr: Double? = nil) throws -> TrainingConfig {
        var members = base
        func merge(_ overrides: [JSONMember]) {
            for member in overrides {
                members.removeAll { $0.key == member.key }
                members.append(member)
            }
        }
        merge(scales[scale]?.config ?? [])
        merge(claim.scales[scale]?.config ?? [])
        merge(arm.config)
        merge([JSONMember("seed", .int(Int64(seed))), JSONMember("corpus", .string(corpus))])
        if let lr { merge([JSONMember("lr", .double(lr))]) }
        return try TrainingConfig(json: .object(members), source: "claim \(claim.id), arm '\(arm.name)' (\(scale.rawValue))")
    }

    /// The registry with the threshold of `claimID`'s predicate replaced (for what-if studies and tests).
    public func replacingThreshold(of claimID: String, with threshold: Double) -> ClaimRegistry {
        var copy = self
        copy.claims = claims.map { claim in
            guard claim.id == claimID else { return claim }
            var changed = claim
            changed.predicate.comparison = claim.predicate.comparison.with(threshold: threshold)
            return changed
        }
        return copy
    }
}

/// Field readers with one-line errors naming the registry path of the bad value.
struct JSONReader {
    let source: String

    func fail(_ path: String, _ message: String) -> OutlierLabError { OutlierLabError("\(source): \(path) \(message)") }

    func object(_ json: JSONValue, _ key: String) throws -> [JSONMember] {
        guard let members = json[key]?.objectMembers else { throw fail(key, "must be a JSON object") }
        return members
    }

    func string(_ json: JSONValue, _ key: String, _ path: String) throws -> String {
        guard let text = json[key]?.stringValue, !text.isEmpty else { throw fail("\(path).\(key)", "must be a non-empty string") }
        return text
    }

    func number(_ json: JSONValue, _ key: String, _ path: String) throws -> Double? {
        guard let value = json[key] else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw fail("\(path).\(key)", "must be a number") }
        return number
    }

    func names(_ json: JSONValue, _ key: String, _ path: String) throws -> [String] {
        guard let values = json[key]?.arrayValue, !values.isEmpty else { throw fail("\(path).\(key)", "must be a non-empty array of arm names") }
        return try values.map {
            guard let name = $0.stringValue else { throw fail("\(path).\(key)", "must hold strings") }
            return name
        }
    }

    func scale(_ json: JSONValue, _ path: String) throws -> ScaleSpec {
        var spec = ScaleSpec()
        if let config = json["config"] {
            guard let members = config.objectMembers else { throw fail("\(path).config", "must be a JSON object") }
            spec.config = members
        }
        if let seeds = json["seeds"] {
            guard let values = seeds.arrayValue else { throw fail("\(path).seeds", "must be an array of non-negative integers") }
            let seeds = try values.map {
                guard let seed = $0.intValue, seed >= 0 else { throw fail("\(path).seeds", "must be an array of non-negative integers") }
                return UInt64(seed)
            }
            if let repeated = seeds.enumerated().first(where: { seeds[..<$0.offset].contains($0.element) })?.element {
                throw fail("\(path).seeds", "lists seed \(repeated) twice; a repeated seed would be reported as a spread of zero")
            }
            spec.seeds = seeds
        }
        if let count = json["confirming_seeds"] {
            guard spec.seeds == nil else { throw fail(path, "sets both seeds and confirming_seeds; choose one") }
            guard let n = count.intValue, n >= 1, n <= 1000 else { throw fail("\(path).confirming_seeds", "must be an integer from 1 to 1000") }
            spec.confirmingSeeds = Int(n)
        }
        if let included = json["run"] {
            guard let flag = included.boolValue else { throw fail("\(path).run", "must be true or false") }
            spec.included = flag
        }
        if let why = json["why"] {
            guard let text = why.stringValue, !text.isEmpty else { throw fail("\(path).why", "must be a non-empty string") }
            spec.why = text
        }
        return spec
    }

    func quantisationStudy(_ json: JSONValue) throws -> QuantisationStudy {
        guard let armValues = json["arms"]?.arrayValue, !armValues.isEmpty else { throw fail("quantisation_study.arms", "must be a non-empty array") }
        let arms = try armValues.enumerated().map { try arm($1, "quantisation_study.arms[\($0)]") }
        guard let schemes = json["schemes"]?.arrayValue, !schemes.isEmpty else { throw fail("quantisation_study.schemes", "must list [scheme, bits] pairs") }
        let requests = try schemes.map { value in
            guard let pair = value.arrayValue, pair.count == 2, let scheme = pair[0].stringValue, let bits = pair[1].intValue, [4, 6, 8].contains(bits) else {
                throw fail("quantisation_study.schemes", "must hold [scheme, bits] pairs with bits 8, 6 or 4")
            }
            return QuantRequest(scheme: scheme, bits: Int(bits))
        }
        return QuantisationStudy(arms: arms, requests: requests)
    }

    func arm(_ value: JSONValue, _ armPath: String) throws -> ArmSpec {
        var best = false
        if let lr = value["lr"] {
            guard lr.stringValue == "best" else { throw fail("\(armPath).lr", "must be \"best\" (a fixed rate goes in config)") }
            best = true
        }
        let name = try string(value, "name", armPath)
        try Identifier.checkLabel(name, "\(source): \(armPath).name")
        return ArmSpec(name: name, config: try object(value, "config"), bestLearningRate: best)
    }

    func learningRateSweep(_ json: JSONValue) throws -> LearningRateSweep {
        guard let values = json["values"]?.arrayValue, values.count >= 2 else { throw fail("lr_sweep.values", "must list at least two learning rates") }
        let rates = try values.map {
            guard let rate = $0.doubleValue, rate.isFinite, rate > 0 else { throw fail("lr_sweep.values", "must hold positive numbers") }
            return rate
        }
        guard Set(rates).count == rates.count else { throw fail("lr_sweep.values", "lists a rate twice") }
        guard let seed = json["calibration_seed"]?.intValue, seed >= 0 else { throw fail("lr_sweep.calibration_seed", "must be a non-negative integer") }
        return LearningRateSweep(values: rates.sorted(), calibrationSeed: UInt64(seed))
    }

    func claim(_ json: JSONValue, _ path: String) throws -> Claim {
        let id = try string(json, "id", path)
        try Identifier.checkFileName(id, "\(source): \(path).id")
        let at = "\(path) (\(id))"
        guard let armValues = json["arms"]?.arrayValue, !armValues.isEmpty else { throw fail("\(at).arms", "must be a non-empty array") }
        let arms = try armValues.enumerated().map { index, value in try arm(value, "\(at).arms[\(index)]") }
        var scales: [AuditScale: ScaleSpec] = [:]
        if let scaleObject = json["scales"] {
            guard let members = scaleObject.objectMembers else { throw fail("\(at).scales", "must be a JSON object") }
            for member in members {
                guard let scale = AuditScale(rawValue: member.key) else { throw fail("\(at).scales", "has unknown scale '\(member.key)' (\(AuditScale.allCases.map(\.rawValue).joined(separator: "|")))") }
                scales[scale] = try self.scale(member.value, "\(at).scales.\(member.key)")
            }
        }
        guard let metricValue = json["metric"] else { throw fail("\(at).metric", "is missing") }
        let metric = try MetricSpec(json: metricValue, path: "\(at).metric", reader: self)
        let against = try json["against"].map { try MetricSpec(json: $0, path: "\(at).against", reader: self) }
        guard let predicateValue = json["predicate"] else { throw fail("\(at).predicate", "is missing") }
        let predicate = try Predicate(json: predicateValue, path: "\(at).predicate", reader: self)
        let armNames = Set(arms.map(\.name))
        guard armNames.count == arms.count else { throw fail("\(at).arms", "has two arms with the same name") }
        for name in predicate.armNames(all: arms.map(\.name)) where !armNames.contains(name) {
            throw fail("\(at).predicate", "names arm '\(name)', which is not one of: \(arms.map(\.name).joined(separator: ", "))")
        }
        if case .spearman = predicate.kind, against == nil { throw fail("\(at).against", "is required by a spearman predicate") }
        guard let originValue = json["origin"] else { throw fail("\(at).origin", "is missing: {\"kind\": \"paper\"} or {\"kind\": \"extension\", \"why\": …}") }
        let origin: ClaimOrigin
        switch try string(originValue, "kind", "\(at).origin") {
        case "paper": origin = .paper
        case "extension": origin = .extension(why: try string(originValue, "why", "\(at).origin"))
        case let other: throw fail("\(at).origin.kind", "is '\(other)'; it must be paper or extension")
        }
        var preconditions: [ClaimPrecondition] = []
        if let values = json["preconditions"] {
            guard let list = values.arrayValue else { throw fail("\(at).preconditions", "must be an array") }
            preconditions = try list.enumerated().map { index, value in
                let condition = try ClaimPrecondition(json: value, path: "\(at).preconditions[\(index)]", reader: self)
                guard armNames.contains(condition.arm) else {
                    throw fail("\(at).preconditions[\(index)].arm", "is '\(condition.arm)', which is not one of: \(arms.map(\.name).joined(separator: ", "))")
                }
                return condition
            }
        }
        return Claim(id: id, statement: try string(json, "statement", at), paperLocation: try string(json, "paper", at),
                     paperSays: try string(json, "paper_says", at), origin: origin, arms: arms, metric: metric, against: against,
                     predicate: predicate, scales: scales, preconditions: preconditions)
    }
}
