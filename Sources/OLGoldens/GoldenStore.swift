import OLCore

/// The three golden directories of a package: accepted goldens (`Goldens/`, in git), candidates waiting
/// for review (`golden-candidates/`, git-ignored) and actual values of failing checks
/// (`.build/golden-actual/`). Each mirrors `<suite>/<case>.golden.gz`.
public struct GoldenStore: Sendable, Equatable {
    public let packageRoot: String

    public init(packageRoot: String) {
        self.packageRoot = packageRoot.count > 1 && packageRoot.hasSuffix("/") ? String(packageRoot.dropLast()) : packageRoot
    }

    public var goldensDirectory: String { "\(packageRoot)/Goldens" }
    public var manifestPath: String { "\(goldensDirectory)/\(GoldenManifest.fileName)" }
    public var candidatesDirectory: String { "\(packageRoot)/golden-candidates" }
    public var actualsDirectory: String { "\(packageRoot)/.build/golden-actual" }
    public var changelogPath: String { "\(packageRoot)/CHANGELOG.md" }

    public func goldenPath(_ relativePath: String) -> String { "\(goldensDirectory)/\(relativePath)" }
    public func candidatePath(_ relativePath: String) -> String { "\(candidatesDirectory)/\(relativePath)" }
    public func actualPath(_ relativePath: String) -> String { "\(actualsDirectory)/\(relativePath)" }

    /// The store of the package containing `path`: the nearest directory at or above it holding a
    /// Package.swift. Tests pass `#filePath`; the CLI passes the working directory.
    public static func locatingPackage(from path: String) throws -> GoldenStore {
        var directory = FilePath.isDirectory(path) ? path : FilePath.directory(of: path)
        if directory == "." { directory = currentDirectory() } else if !directory.hasPrefix("/") { directory = "\(currentDirectory())/\(directory)" }
        while true {
            if FilePath.exists("\(directory)/Package.swift") { return GoldenStore(packageRoot: directory) }
            let parent = FilePath.directory(of: directory)
            if parent == directory || directory == "/" { break }
            directory = parent
        }
        throw OutlierLabError("cannot find the package root (a directory holding Package.swift) at or above \(path == "." ? currentDirectory() : path); pass --root")
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Manifest-checked access

    public func manifest() throws -> GoldenManifest { try GoldenManifest.read(goldensDirectory: goldensDirectory) }

    /// The accepted golden at `relativePath`, checked against the manifest.
    public func loadAccepted(_ relativePath: String, manifest: GoldenManifest) throws -> LoadedGolden {
        try LoadedGolden.readVerified(goldenPath(relativePath), relativePath: relativePath, manifest: manifest, manifestPath: manifestPath)
    }

    /// One golden that failed verification: its path relative to `Goldens/` and the one-line reason.
    public struct TreeProblem: Sendable, Equatable {
        public var relativePath: String
        public var message: String
    }

    /// Checks the whole of `Goldens/` (or the files below `subpath`, relative to it) against the manifest:
    /// every listed golden exists, parses and has its recorded digest; no golden file is unlisted.
    /// A tree with no goldens at all, or a `Goldens` that is not a directory, is an error: a verification
    /// that checked nothing must not pass.
    public func verifyTree(subpath: String? = nil, allowEmpty: Bool = false) throws -> (verified: [String], problems: [TreeProblem]) {
        if FilePath.isSymbolicLink(goldensDirectory) || (FilePath.exists(goldensDirectory) && !FilePath.isDirectory(goldensDirectory)) {
            throw OutlierLabError("\(goldensDirectory) is not a directory; nothing to verify")
        }
        let manifest = try manifest()
        let scope = subpath.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        func inScope(_ relative: String) -> Bool {
            guard let scope, !scope.isEmpty, scope != "." else { return true }
            return relative == scope || relative.hasPrefix(scope + "/")
        }
        let present = try DirectoryListing.files(under: goldensDirectory).filter { !GoldenManifest.nonGoldenFiles.contains($0) }
        var verified: [String] = []
        var problems: [TreeProblem] = []
        for relative in Set(present).union(manifest.entries.keys).sorted() where inScope(relative) {
            do {
                _ = try loadAccepted(relative, manifest: manifest)
                verified.append(relative)
            } catch let error as OutlierLabError {
                problems.append(TreeProblem(relativePath: relative, message: error.message))
            }
        }
        if let scope, !scope.isEmpty, scope != ".", verified.isEmpty, problems.isEmpty {
            throw OutlierLabError("\(goldenPath(scope)): no goldens there")
        }
        if verified.isEmpty && problems.isEmpty && !allowEmpty {
            throw OutlierLabError("\(goldensDirectory) holds no goldens and \(manifestPath) lists none; nothing was verified")
        }
        return (verified, problems)
    }

    /// How many of the goldens at `relativePaths` (relative to `Goldens/`) each harness version recorded,
    /// from their manifest entries, oldest version first. A golden keeps the version that recorded it
    /// until an accepted change replaces it, so goldens of several versions verify side by side.
    public static func recordingVersions(of relativePaths: [String], manifest: GoldenManifest) -> [(version: String, count: Int)] {
        var counts: [String: Int] = [:]
        for relative in relativePaths {
            if let entry = manifest.entries[relative] { counts[entry.harnessVersion, default: 0] += 1 }
        }
        return counts.sorted { versionPrecedes($0.key, $1.key) }.map { (version: $0.key, count: $0.value) }
    }

    /// One line for `olab golden verify`: "harness 0.1.0 recorded 40, 0.2.0 recorded 12; this is 0.2.0".
    public static func describeRecordingVersions(_ versions: [(version: String, count: Int)]) -> String {
        let parts = versions.enumerated().map { index, item in
            (index == 0 ? "harness " : "") + "\(item.version) recorded \(item.count)"
        }
        return parts.joined(separator: ", ") + "; this is \(Harness.version)"
    }

    /// Semantic-version order on the numeric dot-separated fields; a non-numeric field sorts as text.
    static func versionPrecedes(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.split(separator: "."), b.split(separator: "."))
        for (p, q) in zip(x, y) where p != q {
            if let m = Int(p), let n = Int(q) { return m < n }
            return p < q
        }
        return x.count < y.count
    }
}

/// When `Goldens.check` writes candidates, chosen by the `GOLDEN_RECORD` environment variable.
public enum GoldenRecordMode: String, Sendable, CaseIterable {
    /// Verify only; a missing golden fails (CI and `make verify`).
    case never
    /// Write a candidate for cases without an accepted golden; verify the others.
    case missing
    /// Also write a candidate for cases that fail verification (instead of failing).
    case failed
    /// Write a candidate for every case; `accept` later drops those whose values did not change.
    case all

    public static let environmentVariable = "GOLDEN_RECORD"

    /// The mode named by `GOLDEN_RECORD`, `never` when unset or empty.
    public static func fromEnvironment() throws -> GoldenRecordMode {
        try parse(getenvString(environmentVariable))
    }

    /// The mode named by a `GOLDEN_RECORD` value (nil or empty means `never`).
    public static func parse(_ text: String?) throws -> GoldenRecordMode {
        guard let text, !text.isEmpty else { return .never }
        guard let mode = GoldenRecordMode(rawValue: text.lowercased()) else {
            throw OutlierLabError("\(environmentVariable)=\(text) is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return mode
    }
}
