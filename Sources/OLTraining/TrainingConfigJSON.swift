import OLCore
import OLData
import OLKernels
import OLModel
import OLOptimizers

/// JSON form of `TrainingConfig`: a flat object with snake_case keys, one per field. Reading rejects
/// unknown keys, wrong types and out-of-range values with one line naming the key.
extension TrainingConfig {
    /// Keys added after runs were first cached and checkpointed, each with a default that keeps the old
    /// behaviour bit for bit (issue 28's data options, schedule floor, evaluations along the way and diagnostics):
    /// the keys marked `omittedAtDefault` in `keys`.
    ///
    /// Rule: such a key is left out of `json` while it holds its default, and written once it does not.
    /// A config that does not use it then serialises to the bytes it had before the key existed, so its
    /// `config.json`, its checkpoint metadata and its cache key (`RunSpec.cacheKey`, a SHA-256 of this
    /// JSON) do not move and no cached run is thrown away; reading treats the missing key as its default.
    /// Keys that existed before stay written at every value. A key added later with a behaviour-preserving
    /// default is marked `omittedAtDefault: true`.
    public static let keysAddedWithPreservingDefault = Set(keys.filter(\.omittedAtDefault).map(\.name))

    /// The config as a JSON object: every key, except keys of `keysAddedWithPreservingDefault` that hold
    /// their default.
    public var json: JSONValue {
        .object(Self.keys.compactMap { key in
            let value = key.write(self)
            if key.omittedAtDefault && value == key.write(Self.defaults) { return nil }
            return JSONMember(key.name, value)
        })
    }

    /// The default config, for the rule above.
    static let defaults = TrainingConfig()

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
            guard let key = Self.key(member.key) else {
                throw OutlierLabError("\(source): unknown key '\(member.key)' (known keys: \(Self.keys.map(\.name).joined(separator: ", ")))")
            }
            try key.read(&self, member.value, source)
        }
        model.vocab = TokenLayout.vocabulary(bos: bos)
        try validate(source: source)
    }

    /// Checks every field; one line naming the key and what is allowed.
    public func validate(source: String = "config") throws {
        do { try model.validate() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw OutlierLabError("\(source): \(message)") } }
        for key in Self.keys {
            guard let value = key.numbers(self).first(where: { !key.range.contains($0) }) else { continue }
            throw OutlierLabError("\(source): \(key.name) must be \(key.range.text), got \(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)")")
        }
        do { _ = try optimizerConfig() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
        try require(evalAt.allSatisfy { $0 > 0 && $0 < steps },
                    "eval_at steps must lie strictly between 0 and steps (\(steps)), the end being always evaluated; got \(evalAt)")
        try require(zip(evalAt, evalAt.dropFirst()).allSatisfy { $0 < $1 }, "eval_at must list steps in increasing order without repeats, got \(evalAt)")
        try require(metrics || !linearTaps, "linear_taps needs metrics true: it logs the outlier metrics of the linear layers' inputs")
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

/// A config value of a plain JSON type: how it is read (with a one-line error naming the key), written,
/// described, range-checked and given as a flag.
protocol ConfigValue: Sendable {
    init(_ value: JSONValue, _ key: String, _ source: String) throws
    var json: JSONValue { get }
    /// The type as the documented table names it.
    static var typeName: String { get }
    /// The numbers a key's range applies to.
    var numbers: [Double] { get }
    /// A flag's text as this type's JSON value, nil when it is not one.
    static func flagValue(_ text: String) -> JSONValue?
}

extension ConfigValue {
    var numbers: [Double] { [] }
}

/// A value of one JSON scalar type, read with a one-line error naming the key and what it must be.
protocol ScalarConfigValue: ConfigValue {
    /// The value, nil when `json` is not of this type.
    static func from(_ json: JSONValue) -> Self?
    /// What the value must be, as the error says it: "a number", "an integer", "true or false".
    static var noun: String { get }
}

extension ScalarConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let parsed = Self.from(value) else { throw OutlierLabError("\(source): \(key) must be \(Self.noun), got \(value.serialized())") }
        self = parsed
    }
}

extension Double: ScalarConfigValue {
    static func from(_ json: JSONValue) -> Double? { json.doubleValue }
    static var noun: String { "a number" }
    var json: JSONValue { .double(self) }
    static var typeName: String { "number" }
    var numbers: [Double] { [self] }
    static func flagValue(_ text: String) -> JSONValue? { Double(text).map(JSONValue.double) }
}

extension Int: ScalarConfigValue {
    static func from(_ json: JSONValue) -> Int? { json.intValue }
    static var noun: String { "an integer" }
    var json: JSONValue { .int(Int64(self)) }
    static var typeName: String { "integer" }
    var numbers: [Double] { [Double(self)] }
    static func flagValue(_ text: String) -> JSONValue? { Int64(text).map(JSONValue.int) }
}

/// Seeds: any 64-bit pattern on the command line, non-negative in `config.json`.
extension UInt64: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard case .int(let raw) = value, raw >= 0 else { throw OutlierLabError("\(source): \(key) must be a non-negative integer") }
        self = UInt64(raw)
    }
    var json: JSONValue { .int(Int64(bitPattern: self)) }
    static var typeName: String { "integer ≥ 0" }
    static func flagValue(_ text: String) -> JSONValue? { UInt64(text).map { .int(Int64(bitPattern: $0)) } }
}

extension Bool: ScalarConfigValue {
    static func from(_ json: JSONValue) -> Bool? { json.boolValue }
    static var noun: String { "true or false" }
    var json: JSONValue { .bool(self) }
    static var typeName: String { "true|false" }
    static func flagValue(_ text: String) -> JSONValue? { Bool(text).map(JSONValue.bool) }
}

extension Array: ConfigValue where Element: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        guard let items = value.arrayValue else { throw OutlierLabError("\(source): \(key) must be a list, got \(value.serialized())") }
        self = try items.map { try Element($0, key, source) }
    }
    var json: JSONValue { .array(map(\.json)) }
    static var typeName: String { "list of \(Element.typeName)s" }
    var numbers: [Double] { flatMap(\.numbers) }
    static func flagValue(_ text: String) -> JSONValue? { nil }
}

extension Optional: ConfigValue where Wrapped: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        self = value == .null ? nil : try Wrapped(value, key, source)
    }
    var json: JSONValue { self?.json ?? .null }
    static var typeName: String { Wrapped.typeName + " or null" }
    var numbers: [Double] { self?.numbers ?? [] }
    static func flagValue(_ text: String) -> JSONValue? { Wrapped.flagValue(text) }
}

/// The corpus by its config spelling: "synthetic" or a path.
extension CorpusSource: ConfigValue {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        self.init(spelling: try TrainingConfig.string(value, key, source))
    }
    var json: JSONValue { .string(spelling) }
    static var typeName: String { "synthetic or a path" }
    static func flagValue(_ text: String) -> JSONValue? { .string(text) }
}

/// Enumerations read by their config spelling (the raw value), refusing any other with the list.
protocol ConfigChoice: ConfigValue, RawRepresentable, CaseIterable where RawValue == String {}

extension ConfigChoice {
    init(_ value: JSONValue, _ key: String, _ source: String) throws {
        let name = try TrainingConfig.string(value, key, source)
        guard let parsed = Self(rawValue: name) else {
            throw OutlierLabError("\(source): \(key) must be one of \(Self.typeName), got '\(name)'")
        }
        self = parsed
    }
    var json: JSONValue { .string(rawValue) }
    static var typeName: String { allCases.map(\.rawValue).joined(separator: "|") }
    static func flagValue(_ text: String) -> JSONValue? { .string(text) }
}

extension BlockKind: ConfigChoice {}
extension Activation: ConfigChoice {}
extension LearningRateSchedule.Decay: ConfigChoice {}
extension OptimizerKind: ConfigChoice {}
extension EpsConvention: ConfigChoice {}
extension CropAlignment: ConfigChoice {}
