import OLCore
import OLTestSupport
import Testing
@testable import OLGoldens

@Suite("record modes, review and accept")
struct WorkflowTests {
    static let relative = "unit/sample.golden.gz"
    /// One element of `out` moved by 1e-3 relative: a hundred times its rtol 1e-5 budget.
    static let drifted = Sample.goldenCase(extra: []).replacingOut(index: 2, factor: 1 + 1e-3)

    @Test("record mode comes from GOLDEN_RECORD, defaults to never and rejects unknown values")
    func recordModeParsing() throws {
        #expect(try GoldenRecordMode.parse(nil) == .never)
        #expect(try GoldenRecordMode.parse("") == .never)
        #expect(try GoldenRecordMode.parse("Failed") == .failed)
        #expect(thrownMessage { _ = try GoldenRecordMode.parse("yes") } == "GOLDEN_RECORD=yes is not one of never, missing, failed, all")
    }

    @Test("never: a missing golden fails saying how to record it, and nothing is written")
    func neverMissing() throws {
        let root = TemporaryRoot()
        let message = thrownMessage { try Goldens.check(Sample.goldenCase(), root: root.path, mode: .never) }
        #expect(message?.contains("no accepted golden \(root.store.goldenPath(Self.relative))") == true)
        #expect(message?.contains("GOLDEN_RECORD=missing") == true && message?.contains("olab golden accept") == true)
        #expect(try DirectoryListing.files(under: root.path).isEmpty)
    }

    @Test("missing: a candidate is written for a new case and Goldens/ is left alone")
    func missingWritesCandidate() throws {
        let root = TemporaryRoot()
        let outcome = try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        #expect(outcome == .candidateWritten(path: root.store.candidatePath(Self.relative), mode: .missing))
        #expect(try LoadedGolden.read(root.store.candidatePath(Self.relative)).file.goldenCase == Sample.goldenCase())
        #expect(!FilePath.exists(root.store.goldensDirectory))
    }

    @Test("missing and never verify existing goldens: a match passes, a mismatch throws without a candidate",
          arguments: [GoldenRecordMode.missing, .never])
    func verifyingModes(mode: GoldenRecordMode) throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: mode) == .matched)
        #expect(throws: GoldenMismatch.self) { try Goldens.check(Self.drifted, root: root.path, mode: mode) }
        #expect(!FilePath.exists(root.store.candidatesDirectory))
    }

    @Test("a failing check writes the actual values in golden format beside the build and says where")
    func actualWritten() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        var mismatch: GoldenMismatch?
        do { try Goldens.check(Self.drifted, root: root.path, mode: .never) } catch let error as GoldenMismatch { mismatch = error }
        let error = try #require(mismatch)
        let actualPath = root.store.actualPath(Self.relative)
        #expect(error.actualPath == actualPath && actualPath.contains("/.build/golden-actual/unit/"))
        #expect(error.description.contains("Actual values written to \(actualPath)"))
        #expect(error.description.contains("Mismatched elements: 1 / 6"))
        #expect(try LoadedGolden.read(actualPath).file.goldenCase == Self.drifted)
        #expect(try root.store.verifyTree().problems.isEmpty)
    }

    @Test("failed: a failing case becomes a candidate, a passing one does not")
    func failedMode() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: .failed) == .matched)
        #expect(!FilePath.exists(root.store.candidatePath(Self.relative)))
        #expect(try Goldens.check(Self.drifted, root: root.path, mode: .failed) == .candidateWritten(path: root.store.candidatePath(Self.relative), mode: .failed))
    }

    @Test("all: every case becomes a candidate, even one that matches")
    func allMode() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: .all) == .candidateWritten(path: root.store.candidatePath(Self.relative), mode: .all))
    }

    @Test("case-level differences are reported: seed, config, missing and extra tensors, shape")
    func caseLevelDifferences() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        var changed = Sample.goldenCase(extra: [GoldenTensor(NamedTensor(name: "new", shape: [1], floats: [0]), compare: .exact)])
        changed.seed = 8
        changed.config = .object(["d": 8])
        changed.tensors[0].compare = .allclose(rtol: 1e-3, atol: 1e-6)
        changed.tensors[1] = GoldenTensor(NamedTensor(name: "loss", shape: [1], values: .float64([2.3])), compare: .allclose(rtol: 1e-12, atol: 0))
        changed.tensors.remove(at: 2)
        let message = try #require(thrownMessage { try Goldens.check(changed, root: root.path, mode: .never) })
        for piece in [
            "seed: actual 8, golden 7", "config differs at d: actual 8, golden 4",
            "tensor \"tokens\" is in the golden but was not produced", "tensor \"new\" was produced but is not in the golden",
            "tensor \"loss\": actual F64 shape [1], golden F64 shape []",
        ] {
            #expect(message.contains(piece), "missing \"\(piece)\" in:\n\(message)")
        }
    }

    @Test("tolerances are read from the golden: the code's own compare mode neither loosens nor tightens them")
    func tolerancesComeFromTheGolden() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())   // "out" accepted with rtol 1e-5, atol 1e-6
        // 2e-6 relative off: inside the golden's budget although this run asks for exact comparison
        // (as a tolerance re-derived from another kernel's data would differ from the stored one).
        var inside = Sample.goldenCase(scale: 1 + 2e-6)
        inside.tensors[0].compare = .exact
        #expect(try Goldens.check(inside, root: root.path, mode: .never) == .matched)
        // 1e-3 relative off: outside the golden's budget although this run asks for a loose one.
        var outside = Sample.goldenCase(scale: 1 + 1e-3)
        outside.tensors[0].compare = .allclose(rtol: 1e-2, atol: 1)
        let message = try #require(thrownMessage { try Goldens.check(outside, root: root.path, mode: .never) })
        #expect(message.contains("\"out\""), "the report names the tensor: \(message)")
    }

    @Test("goldens recorded by an older harness version keep verifying")
    func olderHarnessVerifies() throws {
        let root = TemporaryRoot()
        let old = GoldenFile(goldenCase: Sample.goldenCase(), provenance: GoldenProvenance(
            harnessVersion: "0.0.1", gitRevision: "0000000", blasConfig: "old BLAS", blasCore: "Prescott", blasThreads: 1))
        let path = root.store.goldenPath(Self.relative)
        try FilePath.makeDirectories(FilePath.directory(of: path))
        try AtomicFile.write(try old.compressed(source: path), to: path)
        try GoldenManifest(entries: [Self.relative: .init(sha256: SHA256.hex(try old.encoded()), formatVersion: 1, harnessVersion: "0.0.1")])
            .write(goldensDirectory: root.store.goldensDirectory)
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: .never) == .matched)
    }

    // MARK: Accept and review

    @Test("accept refuses without a CHANGELOG entry naming the golden, saying exactly what to add", arguments: [
        nil, "# Changelog\n\n## [0.1.0]\n- unit/sample\n", "# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample_v2 (new)\n\n## [0.1.0]\n- unit/sample\n",
    ] as [String?])
    func acceptRefuses(changelog: String?) throws {
        let root = TemporaryRoot()
        try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        if let changelog { try root.write(changelog, to: "CHANGELOG.md") }
        let message = try #require(thrownMessage { try root.store.accept(replay: .skipped) })
        #expect(message.hasPrefix("refusing to accept") && !message.contains("\n"))
        #expect(message.contains("- Goldens: unit/sample (new) — <why the values changed>"), "\(message)")
        #expect(!FilePath.exists(root.store.goldensDirectory))
        #expect(FilePath.exists(root.store.candidatePath(Self.relative)))
    }

    @Test("accept with a CHANGELOG entry moves the candidate, rewrites the manifest and removes the candidate",
          arguments: ["- Goldens: `unit/sample` (new): first recording.", "- Recorded Goldens/unit/sample.golden.gz."])
    func acceptSucceeds(entry: String) throws {
        let root = TemporaryRoot()
        try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        try root.write("# Changelog\n\n## [Unreleased]\n\(entry)\n\n## [0.1.0]\n", to: "CHANGELOG.md")
        let result = try root.store.accept(replay: .skipped)
        #expect(result.accepted == [Self.relative])
        #expect(try root.store.manifest().entries.keys.sorted() == [Self.relative])
        #expect(!FilePath.exists(root.store.candidatesDirectory))
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: .never) == .matched)
    }

    @Test("a changed golden needs its own CHANGELOG entry; unchanged candidates are discarded without one")
    func acceptChangedAndUnchanged() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        try root.accept(Sample.goldenCase(name: "other"))
        let manifestBefore = try FileBytes.read(root.store.manifestPath)
        try Goldens.check(Sample.goldenCase(name: "other"), root: root.path, mode: .all)
        try Goldens.check(Self.drifted, root: root.path, mode: .failed)
        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: unit/other — recorded for a test\n", to: "CHANGELOG.md")
        #expect(thrownMessage { try root.store.accept(replay: .skipped) }?.contains("names unit/sample;") == true)
        try expectBitwiseEqual(FileBytes.read(root.store.manifestPath), manifestBefore, "MANIFEST.json")

        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample changed because the test drifted it.\n", to: "CHANGELOG.md")
        let result = try root.store.accept(replay: .skipped)
        #expect(result == .init(accepted: [Self.relative], discardedUnchanged: ["unit/other.golden.gz"]))
        #expect(try Goldens.check(Self.drifted, root: root.path, mode: .never) == .matched)
        #expect(try FileBytes.read(root.store.manifestPath) != manifestBefore)
    }

    @Test("the long review table (--all) shows every tensor of new and changed cases with its greatest change")
    func reviewTable() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        try Goldens.check(Self.drifted, root: root.path, mode: .failed)
        try Goldens.check(Sample.goldenCase(name: "fresh"), root: root.path, mode: .missing)
        let table = try root.store.reviewTable(all: true)
        // out[2] = 3.5 moved by 1e-3 relative: |Δ| = 0.0035 (rounded to float32), relative 1e-3.
        #expect(table.contains("| unit/sample | changed | out "), "\(table)")
        #expect(table.contains("1 of 6 elements changed") && table.contains("0.0035") && table.contains("0.001"), "\(table)")
        #expect(table.contains("| unit/sample | changed | loss ") && table.contains("unchanged"))
        #expect(table.contains("| unit/fresh  | new     | out "), "\(table)")
        #expect(table.contains("add a line to CHANGELOG.md under \"## [Unreleased]\" naming each golden"), "\(table)")
    }

    @Test("the package root is found from a test's #filePath")
    func packageRoot() throws {
        let store = try GoldenStore.locatingPackage(from: #filePath)
        #expect(FilePath.exists("\(store.packageRoot)/Package.swift"))
        #expect(#filePath.hasPrefix(store.packageRoot + "/Tests/"))
        #expect(thrownMessage { _ = try GoldenStore.locatingPackage(from: "/") }?.contains("pass --root") == true)
    }

    @Test("the recorded git revision is this checkout's short HEAD (-dirty with uncommitted changes), and unknown outside a repository")
    func gitRevision() throws {
        let store = try GoldenStore.locatingPackage(from: #filePath)
        let revision = GitRevision.short(in: store.packageRoot)
        let output = try #require(Subprocess.run(["git", "-C", store.packageRoot, "rev-parse", "--short", "HEAD"])?.output)
        let dirty = try #require(Subprocess.run(["git", "-C", store.packageRoot, "status", "--porcelain"])?.output).contains { !$0.isWhitespace }
        #expect(revision == String(output.filter { !$0.isWhitespace }) + (dirty ? "-dirty" : ""))
        #expect(revision != "unknown" && revision.count >= 7)
        #expect(GitRevision.short(in: TemporaryRoot().path) == "unknown")
    }
}

extension GoldenCase {
    /// This case with `out[index]` multiplied by `factor`.
    func replacingOut(index: Int, factor: Double) -> GoldenCase {
        var copy = self
        var values = copy.tensors[0].tensor.floats!
        values[index] = Float(Double(values[index]) * factor)
        copy.tensors[0].tensor = NamedTensor(name: "out", shape: copy.tensors[0].tensor.shape, floats: values)
        return copy
    }
}
