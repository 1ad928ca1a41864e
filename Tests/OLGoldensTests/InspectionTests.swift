import OLCore
import Testing
@testable import OLGoldens

@Suite("show, diff and the Python reader")
struct InspectionTests {
    static let pythonWithNumPy = Subprocess.run(["python3", "-c", "import numpy"])?.status == 0

    /// `Goldens/read_golden.py`, the reader users run; OLGoldens' Replay article documents it (checked below).
    static var readerPath: String {
        get throws { try GoldenStore.locatingPackage(from: #filePath).packageRoot + "/Goldens/read_golden.py" }
    }

    @Test("the Replay article names the Python reader and the function it documents exists")
    func replayArticleDocumentsTheReader() throws {
        let root = try GoldenStore.locatingPackage(from: #filePath).packageRoot
        let article = try FileBytes.readText(root + "/Sources/OLGoldens/OLGoldens.docc/Replay.md")
        let reader = try FileBytes.readText(try Self.readerPath)
        #expect(article.contains("`python3 Goldens/read_golden.py FILE.golden.gz`"), "Replay.md no longer says how to run Goldens/read_golden.py")
        #expect(article.contains("`read_golden(path)`") && reader.contains("\ndef read_golden(path):"),
                "Replay.md and Goldens/read_golden.py disagree on the reader's entry point")
    }

    @Test("the documented Python reader reads a recorded golden with every tensor's bytes intact",
          .enabled(if: pythonWithNumPy, "python3 with numpy is not installed"))
    func pythonReader() throws {
        let root = TemporaryRoot()
        let goldenCase = Sample.goldenCase(extra: GoldenFormatTests.specialTensors.map { GoldenTensor($0, compare: .exact) })
        let outcome = try Goldens.check(goldenCase, root: root.path, mode: .missing)
        guard case .candidateWritten(let path, _) = outcome else { Issue.record("no candidate written"); return }
        let result = try #require(Subprocess.run(["python3", try Self.readerPath, path]))
        #expect(result.status == 0)
        let numpyDtype = ["F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "|u1"]
        let expected = ["unit/sample \(Harness.version)"] + goldenCase.tensors.map { entry in
            var bytes: [UInt8] = []
            TensorDType.appendLittleEndian(entry.tensor.values, to: &bytes)
            return "\(entry.name) \(numpyDtype[entry.tensor.values.dtype]!) \(entry.tensor.shape) \(entry.compare.name) \(SHA256.hex(bytes))"
        }
        #expect(result.output.split(separator: "\n").map(String.init) == expected)
    }

    @Test("show prints the header and per-tensor statistics")
    func show() throws {
        let root = TemporaryRoot()
        try Goldens.check(Sample.goldenCase(), root: root.path, mode: .missing)
        let text = try GoldenInspection.show(root.store.candidatePath("unit/sample.golden.gz"))
        for piece in [
            "case unit/sample, kind kernel, seed 7, format version 1", "recorded by harness \(Harness.version)",
            "config {\"d\":4,\"eps\":1e-05,\"block\":\"preLN\"}",
            // out = [1, -2, 3.5, 0.25, 0.001, -7]: min -7, max 3.5, mean -0.70817, rms ≈ 3.37 (exact to %.6g).
            "| out    | F32   | [2, 3] | -7", "| 3.5 ", "-0.708167", "allclose rtol=1e-05 atol=1e-06",
            "| bytes  | U8    | [2, 2] | 0 ", "| 255 ",
        ] {
            #expect(text.contains(piece), "missing \"\(piece)\" in:\n\(text)")
        }
    }

    @Test("diff compares two golden trees tensor by tensor under the first tree's compare modes")
    func diffTrees() throws {
        let a = TemporaryRoot(), b = TemporaryRoot()
        try Goldens.check(Sample.goldenCase(), root: a.path, mode: .missing)
        try Goldens.check(Sample.goldenCase(name: "only_a"), root: a.path, mode: .missing)
        try Goldens.check(Sample.goldenCase().replacingOut(index: 0, factor: 1 + 1e-7), root: b.path, mode: .missing)
        let same = try GoldenInspection.diff(a.store.candidatesDirectory, a.store.candidatesDirectory)
        #expect(!same.differs)
        let (table, differs) = try GoldenInspection.diff(a.store.candidatesDirectory, b.store.candidatesDirectory)
        #expect(differs)
        #expect(table.contains("| unit/only_a.golden.gz | -      | only in A"), "\(table)")
        #expect(table.contains("| out    | within tolerance (1 of 6 differ)"), "\(table)")
        #expect(table.contains("| loss   | identical"), "\(table)")
        let drifted = TemporaryRoot()
        try Goldens.check(Sample.goldenCase().replacingOut(index: 0, factor: 1.5), root: drifted.path, mode: .missing)
        let (far, _) = try GoldenInspection.diff(a.store.candidatesDirectory, drifted.store.candidatesDirectory)
        #expect(far.contains("differs (1 of 6 beyond allclose rtol=1e-05 atol=1e-06)") && far.contains("| 0.5 "), "\(far)")
    }

    @Test("show and diff refuse bad input with one line naming it")
    func badInput() throws {
        let root = TemporaryRoot()
        try root.write("not gzip", to: "x.golden.gz")
        #expect(thrownMessage { _ = try GoldenInspection.show("\(root.path)/x.golden.gz") } == "\(root.path)/x.golden.gz: not a gzip file (corrupt or truncated)")
        #expect(thrownMessage { _ = try GoldenInspection.show("\(root.path)/absent.golden.gz") }?.hasPrefix("cannot read \(root.path)/absent.golden.gz") == true)
        #expect(thrownMessage { _ = try GoldenInspection.diff(root.path, "\(root.path)/nope") } == "\(root.path)/nope: no such golden file or folder")
    }
}
