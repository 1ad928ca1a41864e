import OLCore
import Testing
@testable import OLGoldens

/// The accept gate: a CHANGELOG line added since the last commit, with a reason, for every new or changed
/// golden; and the NumPy replay of the candidates before anything moves.
@Suite("accepting goldens")
struct AcceptGateTests {
    static let relative = "unit/sample.golden.gz"

    /// A temporary root that is a git repository with one commit holding `changelog`.
    static func committedRoot(changelog: String) throws -> TemporaryRoot {
        let root = TemporaryRoot()
        try root.write(changelog, to: "CHANGELOG.md")
        for command in [["init", "-q"], ["add", "CHANGELOG.md"],
                        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "changelog"]] {
            let result = try #require(Subprocess.run(["git", "-C", root.path] + command))
            try #require(result.status == 0, "git \(command.joined(separator: " ")) failed in \(root.path)")
        }
        return root
    }

    @Test("a line that was already committed does not count: each accept needs a line of its own")
    func committedLineDoesNotCount() throws {
        let root = try Self.committedRoot(changelog: "# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample (new) — first recording.\n")
        try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        let message = try #require(thrownMessage { try root.store.accept(replay: .skipped) })
        #expect(message.contains("since the last commit names unit/sample;"), "\(message)")
        #expect(!FilePath.exists(root.store.goldensDirectory))

        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: unit/sample (new) — first recording.\n"
                       + "- Goldens: unit/sample (new) — recorded again for the gate test.\n", to: "CHANGELOG.md")
        #expect(try root.store.accept(replay: .skipped).accepted == [Self.relative])
    }

    @Test("the suggested line with its placeholder left in is not a reason", arguments: [
        "- Goldens: unit/sample (new) — <why the values changed>",
        "- Goldens: unit/sample (new)",
        "- `Goldens/unit/sample.golden.gz` (new):",
    ])
    func placeholderIsRefused(line: String) throws {
        let root = TemporaryRoot()
        try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        try root.write("# Changelog\n\n## [Unreleased]\n\(line)\n", to: "CHANGELOG.md")
        let message = try #require(thrownMessage { try root.store.accept(replay: .skipped) })
        #expect(message.contains("gives no reason") && message.contains("unit/sample"), "\(message)")
        #expect(FilePath.exists(root.store.candidatePath(Self.relative)))
    }

    @Test("added lines are a multiset difference against the committed text, inside [Unreleased] only")
    func addedLinesAreCounted() {
        let baseline = "# C\n\n## [Unreleased]\n- a\n- a\n\n## [0.1.0]\n- old\n"
        let current = "# C\n\n## [Unreleased]\n- a\n- a\n- a\n- b\n\n## [0.1.0]\n- old\n- outside\n"
        #expect(Changelog.addedLines(current: current, baseline: baseline) == ["- a", "- b"])
        let wrapped = "## [Unreleased]\n- Goldens: unit/a, unit/b,\n  unit/c (changed) — the reason,\n  on two lines.\n- next\n"
        #expect(Changelog.addedLines(current: wrapped, baseline: "") == ["- Goldens: unit/a, unit/b, unit/c (changed) — the reason, on two lines.", "- next"])
    }

    // MARK: Replay before accept

    /// The replay (and the reader it imports) copied into `root`, as `Goldens/` holds them.
    static func installReplay(in root: TemporaryRoot) throws {
        let package = try GoldenStore.locatingPackage(from: #filePath)
        for file in ["read_golden.py", "golden-header.schema.json"] + ["replay", "autodiff", "model", "metrics", "optimizers", "quant"].map({ "replay/\($0).py" }) {
            try root.write(try FileBytes.readText(package.goldensDirectory + "/" + file), to: "Goldens/" + file)
        }
    }

    static let numpyAvailable = Subprocess.run(["/usr/bin/python3", "-c", "import numpy"])?.status == 0

    /// A ReLU kernel golden the replay can recompute; `corrupt` writes a wrong output.
    static func reluCase(corrupt: Bool) -> GoldenCase {
        let input: [Float] = [-1.5, 0.25, 2], dout: [Float] = [0.5, -1, 3]
        let out = input.map { max($0, 0) } .enumerated().map { index, value in corrupt && index == 2 ? value + 0.5 : value }
        let grad = zip(input, dout).map { $0 > 0 ? $1 : 0 }
        let close = CompareMode.allclose(rtol: 1e-6, atol: 1e-7)
        return GoldenCase(
            suite: "kernels", name: "relu_gate", kind: "kernel", config: .object(["kernel": "relu", "N": 3]), seed: 1,
            tensors: [
                GoldenTensor(NamedTensor(name: "input.inp", shape: [3], floats: input), compare: .exact),
                GoldenTensor(NamedTensor(name: "input.dout", shape: [3], floats: dout), compare: .exact),
                GoldenTensor(NamedTensor(name: "output.out", shape: [3], floats: out), compare: close),
                GoldenTensor(NamedTensor(name: "grad.inp", shape: [3], floats: grad), compare: close),
            ])
    }

    /// A store with the NumPy replay installed, the ReLU candidate written (its output corrupted or not)
    /// and a CHANGELOG entry naming it with `reason`: what accept sees after `make goldens`.
    static func stagedReluCandidate(corrupt: Bool, reason: String) throws -> TemporaryRoot {
        let root = TemporaryRoot()
        try installReplay(in: root)
        try Goldens.check(reluCase(corrupt: corrupt), root: root.path, mode: .missing)
        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: kernels/relu_gate (new) — \(reason).\n", to: "CHANGELOG.md")
        return root
    }

    @Test("accept refuses a candidate the NumPy replay rejects, naming the golden and its worst tensor",
          .enabled(if: numpyAvailable, "Debian's python3-numpy is not installed (make deps installs it)"))
    func replayRejection() throws {
        let root = try Self.stagedReluCandidate(corrupt: true, reason: "a deliberately wrong output")
        let message = try #require(thrownMessage { try root.store.accept(replay: .numpy()) })
        #expect(message.hasPrefix("refusing to accept: the NumPy replay rejects kernels/relu_gate FAIL"), "\(message)")
        #expect(message.contains("output.out[2]") && !message.contains("\n"), "\(message)")
        #expect(!FilePath.exists(root.store.goldenPath("kernels/relu_gate.golden.gz")))
    }

    @Test("accept moves a candidate the NumPy replay confirms",
          .enabled(if: numpyAvailable, "Debian's python3-numpy is not installed (make deps installs it)"))
    func replayConfirmation() throws {
        let root = try Self.stagedReluCandidate(corrupt: false, reason: "recorded for the gate test")
        #expect(try root.store.accept(replay: .numpy()).accepted == ["kernels/relu_gate.golden.gz"])
    }

    @Test("without NumPy the replay refuses and says how to proceed")
    func replayWithoutNumpy() throws {
        let root = TemporaryRoot()
        try Goldens.check(Self.reluCase(corrupt: false), root: root.path, mode: .missing)
        try root.write("# Changelog\n\n## [Unreleased]\n- Goldens: kernels/relu_gate (new) — recorded for the gate test.\n", to: "CHANGELOG.md")
        let message = try #require(thrownMessage { try root.store.accept(replay: .numpy(python: "/bin/false")) })
        #expect(message.contains("cannot import numpy") && message.contains("--skip-replay"), "\(message)")
    }

    // MARK: Review and diff

    @Test("the review lists changed goldens only, one row each, with the worst tensor's change and budget, within 120 columns")
    func compactReview() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        try root.accept(Sample.goldenCase(name: "other"))
        try Goldens.check(Sample.goldenCase(name: "other"), root: root.path, mode: .all)
        try Goldens.check(Sample.goldenCase(scale: 1.001), root: root.path, mode: .failed)
        let table = try root.store.reviewTable()
        let rows = table.split(separator: "\n").filter { $0.hasPrefix("| unit/") }
        #expect(rows.count == 1 && rows[0].contains("unit/sample") && rows[0].contains("| out "), "\(table)")
        // out = [1, −2, 3.5, 0.25, 1e-3, −7]·1.001: |Δ|/(1e-6 + 1e-5·|g|) grows with |g|, so the worst
        // element is −7 (|Δ| 7.0e-3, budget 7.1e-5, 98.6× its budget).
        #expect(rows[0].contains("| 1 of ") && rows[0].contains("| 0.007 ") && rows[0].contains("| 98."), "\(table)")
        #expect(table.contains("1 candidate unchanged"), "\(table)")
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 120 }, "\(table)")
        #expect(try root.store.reviewTable(all: true).split(separator: "\n").count > rows.count + 4)
    }

    @Test("golden diff compares two files as well as two folders")
    func diffOfTwoFiles() throws {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        try Goldens.check(Sample.goldenCase(scale: 1.001), root: root.path, mode: .all)
        let (table, differs) = try GoldenInspection.diff(root.store.goldenPath(Self.relative), root.store.candidatePath(Self.relative))
        #expect(differs && table.contains("differs ("), "\(table)")
        let same = try GoldenInspection.diff(root.store.goldenPath(Self.relative), root.store.goldenPath(Self.relative))
        #expect(!same.differs)
        #expect(thrownMessage { _ = try GoldenInspection.diff(root.store.goldenPath(Self.relative), root.store.goldensDirectory) }?
            .contains("not a file with a folder") == true)
    }

    @Test("a golden recorded from uncommitted changes marks its revision dirty")
    func dirtyRevision() throws {
        let root = try Self.committedRoot(changelog: "# Changelog\n")
        let clean = GitRevision.short(in: root.path)
        #expect(!clean.hasSuffix("-dirty") && clean != "unknown")
        try root.write("edited\n", to: "CHANGELOG.md")
        let other = TemporaryRoot()  // a second path: the revision is cached per directory
        _ = Subprocess.run(["rm", "-rf", other.path])
        _ = Subprocess.run(["cp", "-r", root.path, other.path])
        #expect(GitRevision.short(in: other.path) == clean + "-dirty")
    }
}
