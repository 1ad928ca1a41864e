import OLCore
import OLData
import OLModel

/// JSON form of `TrainingConfig`: a flat object with snake_case keys, one per field. Reading rejects
/// unknown keys, wrong types and out-of-range values with one line naming the key.
extension TrainingConfig {
    /// One config key: how to read it into a config and how to write it out.
    struct Field: Sendable {
        let key: String
        let read: @Sendable (inout TrainingConfig, JSONValue, String) throws -> Void
        let write: @Sendable (TrainingConfig) -> JSONValue
    }

    static func number(_ key: String, _ path: WritableKeyPath<TrainingConfig, Double> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try Self.double(value, key, source) },
              write: { .double($0[keyPath: path]) })
    }
    static func optionalNumber(_ key: String, _ path: WritableKeyPath<TrainingConfig, Double?> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = value == .null ? nil : try Self.double(value, key, source) },
              write: { $0[keyPath: path].map(JSONValue.double) ?? .null })
    }
    static func integer(_ key: String, _ path: WritableKeyPath<TrainingConfig, Int> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try Self.int(value, key, source) },
              write: { .int(Int64($0[keyPath: path])) })
    }
    static func optionalInteger(_ key: String, _ path: WritableKeyPath<TrainingConfig, Int?> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = value == .null ? nil : try Self.int(value, key, source) },
              write: { $0[keyPath: path].map { .int(Int64($0)) } ?? .null })
    }
    static func flag(_ key: String, _ path: WritableKeyPath<TrainingConfig, Bool> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try Self.bool(value, key, source) },
              write: { .bool($0[keyPath: path]) })
    }
    static func optionalFlag(_ key: String, _ path: WritableKeyPath<TrainingConfig, Bool?> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = value == .null ? nil : try Self.bool(value, key, source) },
              write: { $0[keyPath: path].map(JSONValue.bool) ?? .null })
    }
    static func text(_ key: String, _ path: WritableKeyPath<TrainingConfig, String> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try Self.string(value, key, source) },
              write: { .string($0[keyPath: path]) })
    }
    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, _ path: WritableKeyPath<TrainingConfig, E> & Sendable
    ) -> Field where E.RawValue == String {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try Self.parse(value, key, source) },
              write: { .string($0[keyPath: path].rawValue) })
    }
    static func optionalChoice<E: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, _ path: WritableKeyPath<TrainingConfig, E?> & Sendable
    ) -> Field where E.RawValue == String {
        Field(key: key, read: { config, value, source in config[keyPath: path] = value == .null ? nil : try Self.parse(value, key, source) },
              write: { $0[keyPath: path].map { .string($0.rawValue) } ?? .null })
    }
    static func parse<E: RawRepresentable & CaseIterable>(_ value: JSONValue, _ key: String, _ source: String) throws -> E where E.RawValue == String {
        let name = try Self.string(value, key, source)
        guard let parsed = E(rawValue: name) else {
            throw OutlierLabError("\(source): \(key) must be one of \(E.allCases.map(\.rawValue).joined(separator: "|")), got '\(name)'")
        }
        return parsed
    }

    /// Every key, in the order `config.json` lists them.
    static let fields: [Field] = [
        choice("block", \.model.block),
        integer("width", \.model.width),
        integer("layers", \.model.layers),
        integer("heads", \.model.heads),
        integer("seq", \.model.seq),
        choice("activation", \.model.activation),
        flag("tied_head", \.model.tiedHead),
        optionalFlag("final_norm", \.model.finalNorm),
        optionalNumber("beta_init", \.model.betaInit),
        flag("trainable_beta", \.model.trainableBeta),
        optionalNumber("soft_cap", \.model.softCap),
        number("init_std", \.model.initStd),
        choice("optimizer", \.optimizerKind),
        optionalNumber("lr", \.lr),
        optionalNumber("beta1", \.beta1),
        optionalNumber("beta2", \.beta2),
        optionalNumber("eps", \.eps),
        optionalChoice("eps_convention", \.epsilonConvention),
        optionalNumber("weight_decay", \.weightDecay),
        optionalNumber("momentum", \.momentum),
        optionalFlag("nesterov", \.nesterov),
        optionalInteger("precondition_frequency", \.preconditionFrequency),
        optionalNumber("shampoo_beta", \.shampooBeta),
        flag("precondition_embeddings", \.preconditionEmbeddings),
        number("warmup_fraction", \.warmupFraction),
        choice("schedule", \.schedule),
        number("grad_clip", \.gradClip),
        integer("steps", \.steps),
        integer("batch", \.batch),
        Field(key: "seed", read: { config, value, source in
            guard case .int(let raw) = value, raw >= 0 else { throw OutlierLabError("\(source): seed must be a non-negative integer") }
            config.seed = UInt64(raw)
        }, write: { .int(Int64(bitPattern: $0.seed)) }),
        Field(key: "corpus", read: { config, value, source in config.corpusSource = CorpusSource(spelling: try Self.string(value, "corpus", source)) },
              write: { .string($0.corpusSource.spelling) }),
        integer("synthetic_bytes", \.syntheticBytes),
        number("train_fraction", \.trainFraction),
        integer("log_every", \.logEvery),
        integer("checkpoint_every", \.checkpointEvery),
        integer("eval_windows", \.evalWindows),
        integer("probe_batch", \.probeBatch),
        flag("metrics", \.metrics),
        flag("linear_taps", \.linearTaps),
        flag("kurtosis_decomposition", \.kurtosisDecomposition),
    ]

    /// The config as a JSON object with every key.
    public var json: JSONValue {
        .object(Self.fields.map { JSONMember($0.key, $0.write(self)) })
    }

    /// Only the keys whose values differ from the defaults: a complete description of the config that
    /// does not change when a new key is added with a default that keeps old behaviour (golden headers).
    public var nonDefaultJSON: JSONValue {
        let defaults = TrainingConfig().json.objectMembers ?? []
        return .object((json.objectMembers ?? []).filter { member in !defaults.contains(member) })
    }

    /// Reads a config object; keys not given keep their defaults. `source` names the file in errors, and
    /// control characters from the file's keys and values are escaped so every error stays one line.
    public init(json: JSONValue, source: String = "config") throws {
        do {
            try self.init(checkedJSON: json, source: source)
        } catch let error as OutlierLabError {
            throw OutlierLabError(error.message.escapingControlCharacters)
        }
    }

    private init(checkedJSON json: JSONValue, source: String) throws {
        self.init()
        guard let members = json.objectMembers else { throw OutlierLabError("\(source): a config must be a JSON object") }
        for member in members {
            guard let field = Self.fields.first(where: { $0.key == member.key }) else {
                throw OutlierLabError("\(source): unknown key '\(member.key)' (known keys: \(Self.fields.map(\.key).joined(separator: ", ")))")
            }
            try field.read(&self, member.value, source)
        }
        try validate(source: source)
    }

    /// Checks every field; one line naming the key and what is allowed.
    public func validate(source: String = "config") throws {
        do { try model.validate() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw OutlierLabError("\(source): \(message)") } }
        if let lr { try require(lr.isFinite && lr >= 0, "lr must be a non-negative number, got \(lr)") }
        do { _ = try optimizerConfig() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
        try require(steps > 0, "steps must be positive, got \(steps)")
        try require(batch > 0, "batch must be positive, got \(batch)")
        try require((0...1).contains(warmupFraction), "warmup_fraction must be in [0, 1], got \(warmupFraction)")
        try require(gradClip.isFinite && gradClip >= 0, "grad_clip must be non-negative (0 disables), got \(gradClip)")
        try require(trainFraction > 0 && trainFraction < 1, "train_fraction must be strictly between 0 and 1, got \(trainFraction)")
        try require(logEvery > 0, "log_every must be positive, got \(logEvery)")
        try require(checkpointEvery >= 0, "checkpoint_every must be non-negative (0: only at the end), got \(checkpointEvery)")
        try require(evalWindows > 0, "eval_windows must be positive, got \(evalWindows)")
        try require(probeBatch > 0, "probe_batch must be positive, got \(probeBatch)")
        try require(metrics || !linearTaps, "linear_taps needs metrics true: it logs the outlier metrics of the linear layers' inputs")
        try require(syntheticBytes >= 4096, "synthetic_bytes must be at least 4096, got \(syntheticBytes)")
        try require(corpusSource != .file(""), "corpus must be 'synthetic' or a path")
        try requireFitsInMemory(source: source)
    }

    static func double(_ value: JSONValue, _ key: String, _ source: String) throws -> Double {
        guard let number = value.doubleValue else { throw OutlierLabError("\(source): \(key) must be a number, got \(value.serialized())") }
        return number
    }
    static func int(_ value: JSONValue, _ key: String, _ source: String) throws -> Int {
        guard let number = value.intValue else { throw OutlierLabError("\(source): \(key) must be an integer, got \(value.serialized())") }
        return number
    }
    static func bool(_ value: JSONValue, _ key: String, _ source: String) throws -> Bool {
        guard let flag = value.boolValue else { throw OutlierLabError("\(source): \(key) must be true or false, got \(value.serialized())") }
        return flag
    }
    static func string(_ value: JSONValue, _ key: String, _ source: String) throws -> String {
        guard let text = value.stringValue else { throw OutlierLabError("\(source): \(key) must be a string, got \(value.serialized())") }
        // A NUL would cut the string short wherever it reaches C (paths, json-c): refused, not truncated.
        guard !text.utf8.contains(0) else { throw OutlierLabError("\(source): \(key) must not contain a NUL byte") }
        return text
    }
}

