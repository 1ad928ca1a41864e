import OLCore
import OLTestSupport
import Testing
@testable import OLGoldens

/// Paths never escape the golden trees, verification that checked nothing fails, and a killed accept
/// leaves nothing that blocks the next one (issue 18 items 3, 4 and 5).
@Suite("golden tree safety: escaping paths, symbolic links, empty trees, misplaced cases, stale temporaries")
struct TreeSafetyTests {
    static let relative = ManifestTests.relative

    /// Rewrites the manifest with one extra entry `key` copying the sample's digest.
    func addManifestEntry(_ key: String, in root: TemporaryRoot) throws {
        var manifest = try root.store.manifest()
        manifest.entries[key] = manifest.entries[Self.relative]
        try AtomicFile.write(manifest.encoded(), to: root.store.manifestPath)
    }

    @Test("a manifest entry that is absolute or has '..', '.' or empty components is refused", arguments: [
        ("../outside.golden.gz", "has a '..' component"), ("unit/../../outside.golden.gz", "has a '..' component"),
        ("/tmp/outside.golden.gz", "is an absolute path"), ("unit/./sample.golden.gz", "has an empty or '.' component"),
        ("unit//sample.golden.gz", "has an empty or '.' component"), ("unit/sample.txt", "is not a .golden.gz file"),
    ])
    func escapingManifestEntry(key: String, reason: String) throws {
        let root = try ManifestTests.acceptedRoot()
        try addManifestEntry(key, in: root)
        let message = thrownMessage { _ = try root.store.verifyTree() }
        #expect(message == "\(root.store.manifestPath): entry \"\(key)\" \(reason); entries are paths inside Goldens/ like suite/case.golden.gz")
    }

    @Test("a golden whose header names another case than its path fails verification")
    func misplacedCase() throws {
        let root = try ManifestTests.acceptedRoot()
        let copy = root.store.goldenPath("unit/other.golden.gz")
        try AtomicFile.write(try FileBytes.read(root.store.goldenPath(Self.relative)), to: copy)
        try addManifestEntry("unit/other.golden.gz", in: root)
        let (verified, problems) = try root.store.verifyTree()
        #expect(verified == [Self.relative])
        #expect(problems.map(\.message) == ["\(copy): its header names case unit/sample, which belongs at unit/sample.golden.gz: a golden moved or copied by hand"])
    }

    @Test("verifying a tree with no goldens, or a Goldens that is not a directory, fails", arguments: ["empty", "file", "absent"])
    func nothingToVerify(kind: String) throws {
        let root = TemporaryRoot()
        switch kind {
        case "empty": try FilePath.makeDirectories(root.store.goldensDirectory)
        case "file": try AtomicFile.write("not a directory\n", to: root.store.goldensDirectory)
        default: break
        }
        let message = thrownMessage { _ = try root.store.verifyTree() }
        let expected = kind == "file"
            ? "\(root.store.goldensDirectory) is not a directory; nothing to verify"
            : "\(root.store.goldensDirectory) holds no goldens and \(root.store.manifestPath) lists none; nothing was verified"
        #expect(message == expected)
    }

    @Test("accept never follows a symbolic link out of golden-candidates/ or Goldens/", arguments: ["candidate-dir", "candidate-file", "goldens-dir"])
    func symbolicLinksRefused(kind: String) throws {
        let root = try ManifestTests.acceptedRoot()
        let outside = TemporaryRoot()
        let changed = Sample.goldenCase(scale: 2)
        try Goldens.check(changed, root: outside.path, mode: .all)  // a real candidate, outside the package
        let outsideCandidate = outside.store.candidatePath(Self.relative)
        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample — rescaled\n", to: "CHANGELOG.md")
        let goldenBefore = try FileBytes.read(root.store.goldenPath(Self.relative))
        switch kind {
        case "candidate-dir":
            try FilePath.makeDirectories(root.store.candidatesDirectory)
            symlink(outside.store.candidatesDirectory + "/unit", root.store.candidatesDirectory + "/unit")
        case "candidate-file":
            try FilePath.makeDirectories(root.store.candidatesDirectory + "/unit")
            symlink(outsideCandidate, root.store.candidatePath(Self.relative))
        default:
            // Goldens/unit replaced by a link to a directory outside, holding a copy of the golden.
            try FilePath.makeDirectories(outside.path + "/elsewhere")
            try AtomicFile.write(goldenBefore, to: outside.path + "/elsewhere/sample.golden.gz")
            _ = Subprocess.run(["rm", "-rf", root.store.goldensDirectory + "/unit"])
            symlink(outside.path + "/elsewhere", root.store.goldensDirectory + "/unit")
            try Goldens.check(changed, root: root.path, mode: .all)
        }
        let message = try #require(thrownMessage { try root.store.accept(replay: .skipped) })
        #expect(message.contains("is a symbolic link"), "\(message)")
        #expect(!message.contains("\n"))
        if kind == "goldens-dir" {
            try expectBitwiseEqual(FileBytes.read(outside.path + "/elsewhere/sample.golden.gz"), goldenBefore, "the file outside")
        } else {
            try expectBitwiseEqual(FileBytes.read(root.store.goldenPath(Self.relative)), goldenBefore, "Goldens/unit/sample.golden.gz")
            #expect(FilePath.exists(outsideCandidate))
        }
    }

    @Test("temporary files of a killed accept or recorder are removed by the next accept; a live writer's are kept")
    func staleTemporariesCleaned() throws {
        let root = try ManifestTests.acceptedRoot()
        // No process has this PID (Linux pid_max is at most 2^22).
        let dead = "99999999"
        let staleGolden = root.store.goldensDirectory + "/unit/.sample.golden.gz.tmp-\(dead)-1"
        let staleManifest = root.store.goldensDirectory + "/.MANIFEST.json.tmp-\(dead)-2"
        try AtomicFile.write(Array(repeating: 0, count: 1000), to: staleGolden)
        try AtomicFile.write("{", to: staleManifest)
        #expect(try root.store.verifyTree().problems.isEmpty)  // temporaries are not goldens
        try Goldens.check(Sample.goldenCase(scale: 3), root: root.path, mode: .all)
        let staleCandidate = root.store.candidatesDirectory + "/unit/.other.golden.gz.tmp-\(dead)-3"
        let liveCandidate = root.store.candidatesDirectory + "/unit/.third.golden.gz.tmp-\(getpid())-4"
        try AtomicFile.write("x", to: staleCandidate)
        try AtomicFile.write("x", to: liveCandidate)
        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample — rescaled\n", to: "CHANGELOG.md")
        let result = try root.store.accept(replay: .skipped)
        #expect(result.accepted == [Self.relative])
        #expect(!FilePath.exists(staleGolden) && !FilePath.exists(staleManifest) && !FilePath.exists(staleCandidate))
        #expect(FilePath.exists(liveCandidate))
        let (verified, problems) = try root.store.verifyTree()
        #expect(verified == [Self.relative] && problems.isEmpty)
    }
}
