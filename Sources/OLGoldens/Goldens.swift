import OLCore

/// What `Goldens.check` did with a case that did not throw.
public enum GoldenOutcome: Sendable, Equatable {
    /// The case matches its accepted golden.
    case matched
    /// A candidate was written for review (`olab golden review`, then `olab golden accept`).
    case candidateWritten(path: String, mode: GoldenRecordMode)
}

/// A case that does not match its accepted golden. The description is the full multi-line report.
public struct GoldenMismatch: Error, CustomStringConvertible, Sendable {
    public var goldenPath: String
    /// Where the actual values were written (golden format), if writing succeeded.
    public var actualPath: String?
    /// Case-level differences: kind, seed, config, missing or extra tensors, shape, dtype, compare mode.
    public var problems: [String]
    public var failingTensors: [TensorComparison]

    /// Failing tensors reported in full; the rest are counted in one line, so a golden with hundreds of
    /// failing tensors still prints a screenful.
    public static let tensorsShown = 3

    public var description: String {
        var parts = ["Golden mismatch in \(goldenPath):"] + problems.map { "  \($0)" }
        parts += failingTensors.prefix(Self.tensorsShown).map { $0.report() }
        if failingTensors.count > Self.tensorsShown {
            let rest = failingTensors.dropFirst(Self.tensorsShown)
            let worst = rest.max { ($0.worstBudgetFraction?.value ?? 0) < ($1.worstBudgetFraction?.value ?? 0) }
            let fraction = worst?.worstBudgetFraction.map { $0.value.isFinite ? NumberText.general($0.value, digits: 3) + "×" : "∞×" } ?? "?"
            parts.append("… and \(rest.count) more tensors beyond their budgets (worst \(worst?.name ?? "?"), \(fraction) its budget)")
        }
        if let actualPath {
            parts.append("Actual values written to \(actualPath) (inspect with `olab golden diff \(goldenPath) \(actualPath)`).")
        }
        parts.append("If the change is intended: `make goldens`, review the table, add a CHANGELOG line naming the golden with the reason, `make goldens-accept`.")
        return parts.joined(separator: "\n")
    }
}

/// The golden workflow used by the tests of every module.
public enum Goldens {
    /// Verifies `goldenCase` against its accepted golden or, depending on the record mode, writes a
    /// candidate into `golden-candidates/` (never into `Goldens/`).
    ///
    /// - Parameters:
    ///   - root: the package root; by default the package containing `filePath`.
    ///   - mode: by default from `GOLDEN_RECORD` (unset means `never`).
    /// - Throws: `GoldenMismatch` when values differ (the actual values are written to
    ///   `.build/golden-actual/`), `OutlierLabError` for a missing golden in `never` mode or a golden that
    ///   fails its manifest check.
    @discardableResult
    public static func check(_ goldenCase: GoldenCase, root: String? = nil, mode: GoldenRecordMode? = nil, filePath: String = #filePath) throws -> GoldenOutcome {
        try goldenCase.validate()
        let store = try root.map { GoldenStore(packageRoot: $0) } ?? GoldenStore.locatingPackage(from: filePath)
        let mode = try mode ?? GoldenRecordMode.fromEnvironment()
        let relative = goldenCase.relativePath
        let goldenPath = store.goldenPath(relative)

        if mode == .all { return try writeCandidate(goldenCase, store: store, mode: mode) }
        let manifest = try store.manifest()
        guard FilePath.exists(goldenPath) || manifest.entries[relative] != nil else {
            if mode == .never {
                throw OutlierLabError("no accepted golden \(goldenPath) for case \(goldenCase.id): record a candidate with GOLDEN_RECORD=missing swift test, check it with `olab golden review`, then `olab golden accept`")
            }
            return try writeCandidate(goldenCase, store: store, mode: mode)
        }
        let accepted = try store.loadAccepted(relative, manifest: manifest)
        let (problems, failing) = compare(goldenCase, with: accepted.file)
        if problems.isEmpty && failing.isEmpty { return .matched }
        if mode == .failed { return try writeCandidate(goldenCase, store: store, mode: mode) }
        let actualPath = store.actualPath(relative)
        let written: String?
        do {
            try record(goldenCase, to: actualPath, store: store)
            written = actualPath
        } catch {
            written = nil
        }
        throw GoldenMismatch(goldenPath: goldenPath, actualPath: written, problems: problems, failingTensors: failing)
    }

    /// Differences between a case and a golden file: case-level problems and failing tensors, each
    /// tensor compared under the golden's (accepted) compare mode and tolerances. The mode the code asks
    /// for is used only when recording: tolerances are read from the golden, never re-derived from this
    /// run's data and compared, so a golden recorded on one BLAS kernel verifies on another.
    public static func compare(_ actual: GoldenCase, with golden: GoldenFile) -> (problems: [String], failingTensors: [TensorComparison]) {
        let expected = golden.goldenCase
        var problems: [String] = []
        if actual.kind != expected.kind { problems.append("kind: actual \(actual.kind), golden \(expected.kind)") }
        if actual.seed != expected.seed { problems.append("seed: actual \(actual.seed), golden \(expected.seed)") }
        let configChanges = configDifferences(normalised(actual.config), normalised(expected.config))
        if let first = configChanges.first {
            problems.append("config differs at " + first + (configChanges.count > 1 ? " (and \(configChanges.count - 1) more: \(configChanges.dropFirst().prefix(3).map { $0.split(separator: ":").first.map(String.init) ?? $0 }.joined(separator: ", "))\(configChanges.count > 4 ? ", …" : ""))" : ""))
        }
        let actualByName = Dictionary(actual.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let goldenNames = Set(expected.tensors.map(\.name))
        var failing: [TensorComparison] = []
        for entry in expected.tensors {
            guard let produced = actualByName[entry.name] else {
                problems.append("tensor \"\(entry.name)\" is in the golden but was not produced")
                continue
            }
            let (a, g) = (produced.tensor, entry.tensor)
            guard a.values.dtype == g.values.dtype, a.shape == g.shape else {
                problems.append("tensor \"\(entry.name)\": actual \(a.values.dtype) shape \(a.shape), golden \(g.values.dtype) shape \(g.shape)")
                continue
            }
            let comparison = TensorComparison.compare(actual: a, golden: g, mode: entry.compare)
            if !comparison.passed { failing.append(comparison) }
        }
        for entry in actual.tensors where !goldenNames.contains(entry.name) {
            problems.append("tensor \"\(entry.name)\" was produced but is not in the golden")
        }
        return (problems, failing)
    }

    private static func normalised(_ config: JSONValue) -> JSONValue {
        (try? JSONValue.parse(config.serialized())) ?? config
    }

    private static func abbreviated(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        let text = value.serialized()
        return text.count <= 60 ? text : String(text.prefix(60)) + "…"
    }

    /// Where two configs differ, one "key.path: actual A, golden G" per differing leaf, in the golden's
    /// key order (then keys only the actual has): a review names `resolved.model.layer_norm_eps`, not two
    /// 200-character objects.
    static func configDifferences(_ actual: JSONValue?, _ golden: JSONValue?, path: String = "") -> [String] {
        if case .object(let a)? = actual, case .object(let g)? = golden {
            var keys = g.map(\.key)
            for member in a where !keys.contains(member.key) { keys.append(member.key) }
            return keys.flatMap { key in configDifferences(actual?[key], golden?[key], path: path.isEmpty ? key : path + "." + key) }
        }
        guard actual != golden else { return [] }
        return ["\(path.isEmpty ? "(whole config)" : path): actual \(abbreviated(actual)), golden \(abbreviated(golden))"]
    }

    private static func writeCandidate(_ goldenCase: GoldenCase, store: GoldenStore, mode: GoldenRecordMode) throws -> GoldenOutcome {
        let path = store.candidatePath(goldenCase.relativePath)
        try record(goldenCase, to: path, store: store)
        let note = Array("golden candidate written (GOLDEN_RECORD=\(mode.rawValue)): \(path); review with `olab golden review`\n".utf8)
        _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        return .candidateWritten(path: path, mode: mode)
    }

    /// Writes a case in golden format (atomically), with this process's provenance.
    static func record(_ goldenCase: GoldenCase, to path: String, store: GoldenStore) throws {
        let file = GoldenFile(goldenCase: goldenCase, provenance: .current(packageRoot: store.packageRoot))
        try FilePath.makeDirectories(FilePath.directory(of: path))
        try AtomicFile.write(file.compressed(source: path), to: path)
    }
}
