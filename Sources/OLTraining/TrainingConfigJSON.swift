import OLCore
import OLData
import OLModel
import OLOptimizers

/// JSON form of `TrainingConfig`: a flat object with snake_case keys, one per field. Reading rejects
/// unknown keys, wrong types and out-of-range values with one line naming the key.
extension TrainingConfig {
    /// One config key: how to read it into a config and how to write it out.
    struct Field: Sendable {
        let key: String
        let read: @Sendable (inout TrainingConfig, JSONValue, String) throws -> Void
        let write: @Sendable (TrainingConfig) -> JSONValue
    }

    /// A field of a plain JSON type; an optional one may be null (nil: the default applies).
    static func value<T: ConfigValue>(_ key: String, _ path: WritableKeyPath<TrainingConfig, T> & Sendable) -> Field {
        Field(key: key, read: { config, value, source in config[keyPath: path] = try T(value, key, source) },
              write: { $0[keyPath: path].json })
    }
    /// Every key, in the order `config.json` lists them.
    static let fields: [Field] = [
        value("block", \.model.block),
        value("width", \.model.width),
        value("layers", \.model.layers),
        value("heads", \.model.heads),
        value("seq", \.model.seq),
        value("activation", \.model.activation),
        value("tied_head", \.model.tiedHead),
        value("final_norm", \.model.finalNorm),
        value("beta_init", \.model.betaInit),
        value("trainable_beta", \.model.trainableBeta),
        value("soft_cap", \.model.softCap),
        value("init_std", \.model.initStd),
        value("optimizer", \.optimizerKind),
        value("lr", \.lr),
        value("beta1", \.beta1),
        value("beta2", \.beta2),
        value("eps", \.eps),
        value("eps_convention", \.epsilonConvention),
        value("weight_decay", \.weightDecay),
        value("momentum", \.momentum),
        value("nesterov", \.nesterov),
        value("precondition_frequency", \.preconditionFrequency),
        value("shampoo_beta", \.shampooBeta),
        value("precondition_embeddings", \.preconditionEmbeddings),
        value("warmup_fraction", \.warmupFraction),
        value("schedule", \.schedule),
        value("final_lr_fraction", \.finalLRFraction),
        value("grad_clip", \.gradClip),
        value("steps", \.steps),
        value("batch", \.batch),
        Field(key: "seed", read: { config, value, source in
            guard case .int(let raw) = value, raw >= 0 else { throw OutlierLabError("\(source): seed must be a non-negative integer") }
            config.seed = UInt64(raw)
        }, write: { .int(Int64(bitPattern: $0.seed)) }),
        Field(key: "corpus", read: { config, value, source in config.corpusSource = CorpusSource(spelling: try Self.string(value, "corpus", source)) },
              write: { .string($0.corpusSource.spelling) }),
        value("synthetic_bytes", \.syntheticBytes),
        value("train_fraction", \.trainFraction),
        value("bos", \.bos),
        value("crop_align", \.cropAlign),
        value("log_every", \.logEvery),
        value("checkpoint_every", \.checkpointEvery),
        value("eval_windows", \.evalWindows),
        value("probe_batch", \.probeBatch),
        value("metrics", \.metrics),
        value("linear_taps", \.linearTaps),
        value("kurtosis_decomposition", \.kurtosisDecomposition),
        value("eval_at", \.evalAt),
        value("diagnostics", \.diagnostics),
    ]

    /// Keys added after runs were first cached and checkpointed, each with a default that keeps the old
    /// behaviour bit for bit (issue 28's data options, schedule floor, evaluations along the way and diagnostics).
    ///
    /// Rule: such a key is left out of `json` while it holds its default, and written once it does not.
    /// A config that does not use it then serialises to the bytes it had before the key existed, so its
    /// `config.json`, its checkpoint metadata and its cache key (`RunSpec.cacheKey`, a SHA-256 of this
    /// JSON) do not move and no cached run is thrown away; reading treats the missing key as its default.
    /// Keys that existed before stay written at every value. A key added later with a behaviour-preserving
    /// default belongs in this list.
    public static let keysAddedWithPreservingDefault: Set<String> = ["final_lr_fraction", "bos", "crop_align", "eval_at", "diagnostics"]

    /// The config as a JSON object: every key, except keys of `keysAddedWithPreservingDefault` that hold
    /// their default.
    public var json: JSONValue {
        .object(Self.fields.compactMap { field in
            let value = field.write(self)
            if Self.keysAddedWithPreservingDefault.contains(field.key) && value == field.write(Self.defaults) { return nil }
            return JSONMember(field.key, value)
        })
    }

    /// The default config, for the rule above.
    private static let defaults = TrainingConfig()

    /// Only the keys whose values differ from the defaults: a complete description of the config that
    /// does not change when a new key is added with a default that keeps old behaviour (golden headers).
    public var nonDefaultJSON: JSONValue {
        let defaults = TrainingConfig().json.objectMembers ?? []
        return .object((json.objectMembers ?? []).filter { member in !defaults.contains(member) })
    }

    /// The config as training goldens record it: `nonDefaultJSON`, plus `resolved` with the model's full
    /// description (defaults filled in, the kernels' constants included) and the optimiser, so the NumPy
    /// replay keeps no default or constant of its own.
    public var goldenJSON: JSONValue {
        let resolved = JSONValue.object([
            "model": model.goldenDescription, "optimizer": optimizerKind.json, "optimizer_constants": OptimizerConstants.json,
        ])
        return .object((nonDefaultJSON.objectMembers ?? []) + [JSONMember("resolved", resolved)])
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
        model.vocab = TokenLayout.vocabulary(bos: bos)
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
        try require((0...1).contains(finalLRFraction), "final_lr_fraction must be in [0, 1] (the schedule's floor as a fraction of the peak rate), got \(finalLRFraction)")
        try require(gradClip.isFinite && gradClip >= 0, "grad_clip must be non-negative (0 disables), got \(gradClip)")
        try require(trainFraction > 0 && trainFraction < 1, "train_fraction must be strictly between 0 and 1, got \(trainFraction)")
        try require(logEvery > 0, "log_every must be positive, got \(logEvery)")
        try require(checkpointEvery >= 0, "checkpoint_every must be non-negative (0: only at the end), got \(checkpointEvery)")
        try require(evalWindows > 0, "eval_windows must be positive, got \(evalWindows)")
        try require(probeBatch > 0, "probe_batch must be positive, got \(probeBatch)")
        try require(evalAt.allSatisfy { $0 > 0 && $0 < steps },
                    "eval_at steps must lie strictly between 0 and steps (\(steps)), the end being always evaluated; got \(evalAt)")
        try require(zip(evalAt, evalAt.dropFirst()).allSatisfy { $0 < $1 }, "eval_at must list steps in increasing order without repeats, got \(evalAt)")
        try require(metrics || !linearTaps, "linear_taps needs metrics true: it logs the outlier metrics of the linear layers' inputs")
        try require(syntheticBytes >= 4096, "synthetic_bytes must be at least 4096, got \(syntheticBytes)")
        try require(corpusSource != .file(""), "corpus must be 'synthetic' or a path")
        try requireFitsInMemory(source: source)
    }

    static func string(_ value: JSONValue, _ key: String, _ source: String) throws -> String {
        guard let text = value.stringValue else { throw OutlierLabError("\(source): \(key) must be a string, got \(value.serialized())") }
        // A NUL would cut the string short wherever it reaches C (paths, json-c): refused, not truncated.
        guard !text.utf8.contains(0) else { throw OutlierLabError("\(source): \(key) must not contain a NUL byte") }
        return text
    }
}

/// A config value of a plain JSON type: how it is read (with a one-line error naming the key) and written.
protocol ConfigValue: Sendable {
    init(_ value: JSONValue, _ key: String, _ source: String) throws
    var json: JSONValue { get }
}

extension Double: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let number = value.doubleValue else { throw OutlierLabError("\(source): \(key) must be a number, got \(value.serialized())") }
        self = number
    }
    var json: JSONValue { .double(self) }
}

extension Int: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let number = value.intValue else { throw OutlierLabError("\(source): \(key) must be an integer, got \(value.serialized())") }
        self = number
    }
    var json: JSONValue { .int(Int64(self)) }
}

extension Bool: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let flag = value.boolValue else { throw OutlierLabError("\(source): \(key) must be true or false, got \(value.serialized())") }
        self = flag
    }
    var json: JSONValue { .bool(self) }
}

extension Array: ConfigValue where Element: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let items = value.arrayValue else { throw OutlierLabError("\(source): \(key) must be a list, got \(value.serialized())") }
        self = try items.map { try Element($0, key, source) }
    }
    var json: JSONValue { .array(map(\.json)) }
}

extension Optional: ConfigValue where Wrapped: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        self = value == .null ? nil : try Wrapped(value, key, source)
    }
    var json: JSONValue { self?.json ?? .null }
}

/// Enumerations read by their config spelling (the raw value), refusing any other with the list.
protocol ConfigChoice: ConfigValue, RawRepresentable, CaseIterable where RawValue == String {}

extension ConfigChoice {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        let name = try TrainingConfig.string(value, key, source)
        guard let parsed = Self(rawValue: name) else {
            throw OutlierLabError("\(source): \(key) must be one of \(Self.allCases.map(\.rawValue).joined(separator: "|")), got '\(name)'")
        }
        self = parsed
    }
    var json: JSONValue { .string(rawValue) }
}

extension BlockKind: ConfigChoice {}
extension Activation: ConfigChoice {}
extension LearningRateSchedule.Decay: ConfigChoice {}
extension OptimizerKind: ConfigChoice {}
extension EpsConvention: ConfigChoice {}
extension CropAlignment: ConfigChoice {}
