import OLCore
import Testing
@testable import OLGoldens

/// Goldens keep the harness version that recorded them, and those of an older version keep verifying under
/// the current one: the suite's promise is to compare against goldens across versions.
@Suite("goldens across harness versions")
struct CrossVersionTests {
    @Test("the accepted goldens verify under this version, and the per-version count matches their headers")
    func acceptedGoldensVerifyAcrossVersions() throws {
        let store = try GoldenStore.locatingPackage(from: #filePath)
        let manifest = try store.manifest()
        let (verified, problems) = try store.verifyTree()
        #expect(problems.isEmpty, "\(problems.map(\.message))")
        var fromHeaders: [String: Int] = [:]
        for relative in verified {
            fromHeaders[try store.loadAccepted(relative, manifest: manifest).file.provenance.harnessVersion, default: 0] += 1
        }
        let counts = GoldenStore.recordingVersions(of: verified, manifest: manifest)
        #expect(Dictionary(uniqueKeysWithValues: counts.map { ($0.version, $0.count) }) == fromHeaders)
        #expect(counts.map(\.count).reduce(0, +) == verified.count)
        // Goldens are re-recorded only when their values change, so some predate this version (0.1.0
        // recorded every golden until 0.3.0) and must still verify.
        let older = counts.filter { GoldenStore.versionPrecedes($0.version, Harness.version) }
        #expect(!older.isEmpty, "no golden predates harness \(Harness.version); this test would no longer cross versions")
    }

    @Test("a golden recorded by an older harness passes the check of the current one and keeps its version")
    func olderGoldenChecksUnderCurrentHarness() throws {
        let root = TemporaryRoot()
        let goldenCase = Sample.goldenCase()
        let older = GoldenProvenance(harnessVersion: "0.0.1", gitRevision: "abc1234", blasConfig: "OpenBLAS test", blasCore: "Haswell", blasThreads: 2)
        let file = GoldenFile(goldenCase: goldenCase, provenance: older)
        let relative = "unit/sample.golden.gz"
        try FilePath.makeDirectories(FilePath.directory(of: root.store.goldenPath(relative)))
        try AtomicFile.write(try file.compressed(source: relative), to: root.store.goldenPath(relative))
        let manifest = GoldenManifest(entries: [relative: .init(sha256: SHA256.hex(try file.encoded()), formatVersion: file.formatVersion, harnessVersion: "0.0.1")])
        try manifest.write(goldensDirectory: root.store.goldensDirectory)

        let outcome = try Goldens.check(goldenCase, root: root.path, mode: .never)
        #expect(outcome == .matched, "\(outcome)")
        let (verified, problems) = try root.store.verifyTree()
        #expect(verified == [relative] && problems.isEmpty)
        let counts = GoldenStore.recordingVersions(of: verified, manifest: try root.store.manifest())
        #expect(counts.map(\.version) == ["0.0.1"] && counts.map(\.count) == [1])
        #expect(GoldenStore.describeRecordingVersions(counts) == "harness 0.0.1 recorded 1; this is \(Harness.version)")
    }

    @Test("harness versions order numerically, field by field", arguments: [
        ("0.1.0", "0.3.0", true), ("0.3.0", "0.1.0", false), ("0.9.0", "0.10.0", true), ("1.0.0", "0.10.0", false),
        ("0.3.0", "0.3.0", false), ("0.3", "0.3.0", true),
    ])
    func versionOrder(a: String, b: String, precedes: Bool) {
        #expect(GoldenStore.versionPrecedes(a, b) == precedes)
    }
}
