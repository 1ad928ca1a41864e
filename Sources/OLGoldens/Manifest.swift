import OLCore

/// `Goldens/MANIFEST.json`: every accepted golden (path relative to `Goldens/`) with the SHA-256 of its
/// uncompressed content, its format version and the harness version that recorded it. Goldens change
/// only through `olab golden accept`, which rewrites this file; anything else shows up as a mismatch.
public struct GoldenManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var sha256: String
        public var formatVersion: Int
        public var harnessVersion: String

        public init(sha256: String, formatVersion: Int, harnessVersion: String) {
            self.sha256 = sha256
            self.formatVersion = formatVersion
            self.harnessVersion = harnessVersion
        }
    }

    public static let fileName = "MANIFEST.json"
    static let manifestVersion = 1
    /// Files under `Goldens/` that are documentation or tooling, not goldens: the reader, the header's
    /// JSON Schema and the NumPy replay (`make replay`), each named so nothing else slips in unlisted.
    static let nonGoldenFiles = Set([fileName, "README.md", "read_golden.py", "golden-header.schema.json"]
        + ["replay", "autodiff", "model", "metrics", "optimizers", "quant"].map { "replay/\($0).py" })

    public var entries: [String: Entry]

    public init(entries: [String: Entry] = [:]) { self.entries = entries }

    /// The manifest in `goldensDirectory`; an absent file is an empty manifest.
    public static func read(goldensDirectory: String) throws -> GoldenManifest {
        let path = "\(goldensDirectory)/\(fileName)"
        guard FilePath.exists(path) else { return GoldenManifest() }
        return try decode(try FileBytes.read(path), source: path)
    }

    /// A manifest from its bytes; `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source path: String) throws -> GoldenManifest {
        let json = try JSONValue.parse(bytes: bytes, source: path)
        guard json["manifest_version"]?.intValue == manifestVersion, let goldens = json["goldens"]?.objectMembers else {
            throw OutlierLabError("\(path): not a version \(manifestVersion) golden manifest (needs manifest_version and a goldens object)")
        }
        var entries: [String: Entry] = [:]
        for member in goldens {
            if let problem = pathProblem(member.key) {
                throw OutlierLabError("\(path): entry \"\(String(member.key.prefix(200)).escapingControlCharacters)\" \(problem); entries are paths inside Goldens/ like suite/case.golden.gz")
            }
            guard let sha = member.value["sha256"]?.stringValue, sha.count == 64,
                  let format = member.value["format_version"]?.intValue,
                  let harness = member.value["harness_version"]?.stringValue
            else { throw OutlierLabError("\(path): entry \"\(member.key)\" needs sha256 (64 hex digits), format_version and harness_version") }
            entries[member.key] = Entry(sha256: sha, formatVersion: format, harnessVersion: harness)
        }
        return GoldenManifest(entries: entries)
    }

    /// Why `relative` cannot name a golden inside `Goldens/` (absolute, `..`, `.` or empty components,
    /// control characters, not a .golden.gz file), or nil when it can.
    public static func pathProblem(_ relative: String) -> String? {
        if relative.hasPrefix("/") { return "is an absolute path" }
        if relative.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { return "holds a control character" }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains("..") { return "has a '..' component" }
        if components.contains(where: { $0.isEmpty || $0 == "." }) { return "has an empty or '.' component" }
        if !relative.hasSuffix(".golden.gz") { return "is not a .golden.gz file" }
        return nil
    }

    /// The manifest's bytes, entries sorted by path so diffs stay small.
    public func encoded() -> [UInt8] {
        let members = entries.keys.sorted().map { path in
            let entry = entries[path]!
            return JSONMember(path, .object([
                "sha256": .string(entry.sha256),
                "format_version": .int(Int64(entry.formatVersion)),
                "harness_version": .string(entry.harnessVersion),
            ]))
        }
        let json: JSONValue = .object(["manifest_version": .int(Int64(Self.manifestVersion)), "goldens": .object(members)])
        return Array((json.serialized(pretty: true) + "\n").utf8)
    }

    /// Writes the manifest atomically.
    public func write(goldensDirectory: String) throws {
        try FilePath.makeDirectories(goldensDirectory)
        try AtomicFile.write(encoded(), to: "\(goldensDirectory)/\(Self.fileName)")
    }
}

/// A golden read from disk with the digest of its uncompressed content.
public struct LoadedGolden: Sendable {
    public var path: String
    public var file: GoldenFile
    public var contentSHA256: String

    /// Reads, decompresses (bounded) and parses a golden file.
    public static func read(_ path: String, decompressedLimit: Int = Gzip.defaultDecompressedLimit) throws -> LoadedGolden {
        let content = try Gzip.decompress(try FileBytes.read(path), limit: decompressedLimit, source: path)
        return LoadedGolden(path: path, file: try GoldenFile.decode(content, source: path), contentSHA256: SHA256.hex(content))
    }

    /// Reads a golden and checks it against its manifest entry: hand edits, corruption and unlisted
    /// files all throw a one-line error naming the file.
    public static func readVerified(_ path: String, relativePath: String, manifest: GoldenManifest, manifestPath: String) throws -> LoadedGolden {
        guard let entry = manifest.entries[relativePath] else {
            throw OutlierLabError("\(path): not listed in \(manifestPath); goldens enter Goldens/ only through `olab golden accept`")
        }
        guard FilePath.exists(path) else { throw OutlierLabError("\(path): listed in \(manifestPath) but missing") }
        let loaded = try read(path)
        guard loaded.contentSHA256 == entry.sha256 else {
            throw OutlierLabError("\(path): content SHA-256 \(loaded.contentSHA256.prefix(12))… does not match \(manifestPath) (\(entry.sha256.prefix(12))…): edited or corrupted; restore it from git or re-record and accept")
        }
        guard loaded.file.goldenCase.relativePath == relativePath else {
            throw OutlierLabError("\(path): its header names case \(loaded.file.goldenCase.id.escapingControlCharacters), which belongs at \(loaded.file.goldenCase.relativePath.escapingControlCharacters): a golden moved or copied by hand")
        }
        guard loaded.file.formatVersion == entry.formatVersion else {
            throw OutlierLabError("\(path): format version \(loaded.file.formatVersion) does not match \(manifestPath) (\(entry.formatVersion))")
        }
        return loaded
    }
}

/// Directory walking without Foundation.
enum DirectoryListing {
    /// Regular files below `root`, as relative paths sorted in byte order; none if `root` is absent.
    /// Symbolic links are refused, at the root or below it, so a listing never leads out of the tree;
    /// temporary files of `AtomicFile` writes are left out unless `temporaries`.
    static func files(under root: String, temporaries: Bool = false) throws -> [String] {
        if FilePath.isSymbolicLink(root) { throw OutlierLabError("\(root) is a symbolic link; it must be a directory of the package") }
        guard FilePath.isDirectory(root) else { return [] }
        var found: [String] = []
        func collect(_ directory: String, prefix: String) throws {
            for name in try FilePath.entries(of: directory) {
                let full = "\(directory)/\(name)"
                if FilePath.isSymbolicLink(full) {
                    throw OutlierLabError("\(full.escapingControlCharacters) is a symbolic link; goldens and candidates must be regular files inside \(root)")
                }
                if FilePath.isDirectory(full) {
                    try collect(full, prefix: "\(prefix)\(name)/")
                } else if temporaries || AtomicFile.temporaryOwner(name) == nil {
                    found.append("\(prefix)\(name)")
                }
            }
        }
        try collect(root, prefix: "")
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// `root` and every directory below it (not following links), for cleaning temporary files.
    static func directories(under root: String) -> [String] {
        guard FilePath.isDirectory(root), !FilePath.isSymbolicLink(root) else { return [] }
        var found = [root]
        for name in (try? FilePath.entries(of: root)) ?? [] where !FilePath.isSymbolicLink("\(root)/\(name)") && FilePath.isDirectory("\(root)/\(name)") {
            found += directories(under: "\(root)/\(name)")
        }
        return found
    }

    /// Removes `root` and the directories below it if none of them holds a file.
    static func removeIfEmpty(_ root: String) {
        guard let files = try? files(under: root), files.isEmpty else { return }
        func remove(_ directory: String) {
            for name in (try? FilePath.entries(of: directory)) ?? [] { remove("\(directory)/\(name)") }
            rmdir(directory)
        }
        remove(root)
    }
}
