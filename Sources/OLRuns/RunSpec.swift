import OLCore
import OLTraining

/// Everything one cached run needs, written beside its run directory as `<runs>/<key>.spec.json`, so
/// any process — a local worker or a Slurm array task on another node — executes it from the file alone
/// (`olab run-task SPEC`). Audits and sweeps share the format and the cache.
public struct RunSpec: Sendable, Equatable {
    /// The cache key (`RunSpec.cacheKey`): equal configs on equal corpus bytes share one run.
    public var key: String
    public var config: TrainingConfig
    /// Quantised evaluations to run on the finished model, sorted.
    public var quantisations: [QuantRequest]
    /// Who uses the run ("claim / arm / seed", or a sweep's overrides), for progress lines.
    public var label: String

    public init(key: String, config: TrainingConfig, quantisations: [QuantRequest], label: String) {
        self.key = key
        self.config = config
        self.quantisations = quantisations.sorted()
        self.label = label
    }

    public static let fileSuffix = ".spec.json"

    /// The run directory, the spec file and the lock file of `key` under a `runs` directory.
    public static func directory(_ key: String, in runs: String) -> String { runs + "/" + key }
    public static func specPath(_ key: String, in runs: String) -> String { runs + "/" + key + fileSuffix }
    public static func lockPath(_ key: String, in runs: String) -> String { runs + "/" + key + ".lock" }

    public var json: JSONValue {
        .object([
            "format_version": 1,
            "key": .string(key),
            "label": .string(label),
            "config": config.json,
            "quantisations": .array(quantisations.map(\.json)),
        ])
    }

    /// Reads a spec file; a spec whose config no longer hashes to its key (hand-edited, or written for
    /// another corpus) is refused, so a task never trains one config into another config's directory.
    public static func load(_ path: String, corpusFingerprint: (TrainingConfig) throws -> String = RunSpec.fingerprint) throws -> RunSpec {
        let json = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
        guard json["format_version"]?.intValue == 1 else { throw OutlierLabError("\(path): not a run spec of format version 1") }
        guard let key = json["key"]?.stringValue, let label = json["label"]?.stringValue, let configJSON = json["config"],
              let requests = json["quantisations"]?.arrayValue else {
            throw OutlierLabError("\(path): a run spec needs key, label, config and quantisations")
        }
        let config = try TrainingConfig(json: configJSON, source: path)
        let quantisations = try requests.map { request in
            guard let scheme = request["scheme"]?.stringValue, let bits = request["bits"]?.intValue else {
                throw OutlierLabError("\(path): every quantisation needs a scheme and bits")
            }
            return QuantRequest(scheme: scheme, bits: Int(bits), site: request["site"]?.stringValue, planted: request["planted"]?.intValue)
        }
        let expected = RunSpec.cacheKey(config, corpusFingerprint: try corpusFingerprint(config))
        guard expected == key else {
            throw OutlierLabError("\(path): its config hashes to \(expected.prefix(12)), not to its key \(key.prefix(12)); the spec was edited or the corpus changed")
        }
        return RunSpec(key: key, config: config, quantisations: quantisations, label: label)
    }

    /// Writes the spec atomically (unchanged bytes for an unchanged spec).
    public func write(in runs: String) throws {
        try FilePath.makeDirectories(runs)
        try AtomicFile.write(json.serialized(pretty: true) + "\n", to: Self.specPath(key, in: runs))
    }

    /// The cache key of a config: equal configs on equal corpus bytes share one run. It hashes
    /// `TrainingConfig.json`, which leaves out keys added with a behaviour-preserving default while they
    /// hold it (`keysAddedWithPreservingDefault`), so adding such a key moves no cached run's key.
    public static func cacheKey(_ config: TrainingConfig, corpusFingerprint: String) -> String {
        guard let members = config.json.objectMembers else { return SHA256.hex(Array(config.json.serialized().utf8)) }
        let keyed = JSONValue.object(members.map { $0.key == "corpus" ? JSONMember("corpus", .string(corpusFingerprint)) : $0 })
        return SHA256.hex(Array(keyed.serialized().utf8))
    }

    /// The fingerprint of the seeded synthetic corpus (its size is part of the config itself).
    public static let syntheticFingerprint = "synthetic"

    /// The corpus fingerprint a config's cache key uses, as `AuditCorpus` computes it: the SHA-256 of the
    /// corpus bytes, or "synthetic" for the generator (whose size is part of the config itself).
    public static func fingerprint(_ config: TrainingConfig) throws -> String {
        config.corpus == "synthetic" ? syntheticFingerprint : try config.loadCorpus().sha256
    }
}
