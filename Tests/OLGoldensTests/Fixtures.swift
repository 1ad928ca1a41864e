import OLCore
@testable import OLGoldens

/// A throw-away package root in /tmp, removed when the value is released.
final class TemporaryRoot {
    let path: String

    init() {
        var template = Array("/tmp/olgoldens-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    deinit { _ = Subprocess.run(["rm", "-rf", path]) }

    var store: GoldenStore { GoldenStore(packageRoot: path) }

    func write(_ text: String, to relative: String) throws {
        try FilePath.makeDirectories(FilePath.directory(of: "\(path)/\(relative)"))
        try AtomicFile.write(text, to: "\(path)/\(relative)")
    }

    /// Records `goldenCase` as a candidate and accepts it with a CHANGELOG entry: the normal way a golden
    /// enters `Goldens/`.
    func accept(_ goldenCase: GoldenCase) throws {
        try Goldens.check(goldenCase, root: path, mode: .all)
        try write("# Changelog\n\n## [Unreleased]\n- Goldens: \(goldenCase.id) — recorded for a test\n", to: "CHANGELOG.md")
        try store.accept(replay: .skipped)
    }
}

enum Sample {
    /// A small case with one tensor of each dtype and each compare mode.
    static func goldenCase(name: String = "sample", scale: Float = 1, extra: [GoldenTensor] = []) -> GoldenCase {
        GoldenCase(
            suite: "unit", name: name, kind: "kernel",
            config: .object(["d": 4, "eps": 1e-5, "block": "preLN"]), seed: 7,
            tensors: [
                GoldenTensor(NamedTensor(name: "out", shape: [2, 3], floats: [1, -2, 3.5, 0.25, 1e-3, -7].map { $0 * scale }),
                             compare: .allclose(rtol: 1e-5, atol: 1e-6)),
                GoldenTensor(NamedTensor(name: "loss", shape: [], values: .float64([2.302585092994046])), compare: .allclose(rtol: 1e-12, atol: 0)),
                GoldenTensor(NamedTensor(name: "tokens", shape: [4], values: .int64([3, 1, 4, 1])), compare: .exact),
                GoldenTensor(NamedTensor(name: "bytes", shape: [2, 2], values: .uint8([0, 127, 128, 255])), compare: .exact),
            ] + extra
        )
    }

    static let provenance = GoldenProvenance(harnessVersion: "0.1.0", gitRevision: "abc1234", blasConfig: "OpenBLAS test", blasCore: "Haswell", blasThreads: 2)
}

/// The message of a thrown error, or nil if nothing was thrown.
func thrownMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

func gzipFile(_ path: String) throws -> [UInt8] {
    try Gzip.decompress(FileBytes.read(path), source: path)
}
