import OLCore
import Testing
@testable import OLGoldens

@Suite("manifest integrity")
struct ManifestTests {
    /// A root holding one accepted golden, `unit/sample`.
    static func acceptedRoot() throws -> TemporaryRoot {
        let root = TemporaryRoot()
        try root.accept(Sample.goldenCase())
        return root
    }

    static let relative = "unit/sample.golden.gz"

    /// Expects both the tree check and `Goldens.check` to fail with a message naming `file`.
    func expectFailureNaming(_ file: String, in root: TemporaryRoot, containing reason: String) throws {
        let (_, problems) = try root.store.verifyTree()
        #expect(problems.count == 1)
        let message = try #require(problems.first?.message)
        #expect(message.contains(file) && message.contains(reason), "\(message)")
        #expect(!message.contains("\n"))
        if file.hasSuffix("sample.golden.gz") {
            let checked = thrownMessage { try Goldens.check(Sample.goldenCase(), root: root.path, mode: .never) }
            #expect(checked?.contains(file) == true && checked?.contains(reason) == true, "\(checked ?? "nothing thrown")")
        }
    }

    @Test("an accepted golden verifies and the manifest lists its content digest, format and harness version")
    func cleanTree() throws {
        let root = try Self.acceptedRoot()
        let (verified, problems) = try root.store.verifyTree()
        #expect(verified == [Self.relative] && problems.isEmpty)
        let entry = try #require(try root.store.manifest().entries[Self.relative])
        #expect(entry.sha256 == SHA256.hex(try gzipFile(root.store.goldenPath(Self.relative))))
        #expect(entry.formatVersion == 1 && entry.harnessVersion == Harness.version)
        #expect(try Goldens.check(Sample.goldenCase(), root: root.path, mode: .never) == .matched)
    }

    @Test("flipping one byte of the compressed file fails naming the file", arguments: [0, 30, -8, -2])
    func flippedByte(position: Int) throws {
        let root = try Self.acceptedRoot()
        let path = root.store.goldenPath(Self.relative)
        var bytes = try FileBytes.read(path)
        bytes[position < 0 ? bytes.count + position : position] ^= 0x10
        try AtomicFile.write(bytes, to: path)
        try expectFailureNaming(path, in: root, containing: "gzip")
    }

    @Test("a truncated golden fails naming the file")
    func truncatedFile() throws {
        let root = try Self.acceptedRoot()
        let path = root.store.goldenPath(Self.relative)
        try AtomicFile.write(Array(try FileBytes.read(path).dropLast(9)), to: path)
        try expectFailureNaming(path, in: root, containing: "truncated")
    }

    @Test("a listed golden that was deleted fails naming the file")
    func deletedFile() throws {
        let root = try Self.acceptedRoot()
        let path = root.store.goldenPath(Self.relative)
        #expect(unlinkFile(path))
        try expectFailureNaming(path, in: root, containing: "listed in")
    }

    @Test("a golden present but not listed in the manifest fails naming the file")
    func unlistedFile() throws {
        let root = try Self.acceptedRoot()
        let stray = root.store.goldenPath("unit/stray.golden.gz")
        try AtomicFile.write(try FileBytes.read(root.store.goldenPath(Self.relative)), to: stray)
        try expectFailureNaming(stray, in: root, containing: "not listed in")
    }

    @Test("editing a tolerance inside the header and re-gzipping fails the digest check, naming the file")
    func editedTolerance() throws {
        let root = try Self.acceptedRoot()
        let path = root.store.goldenPath(Self.relative)
        // Same length, so the edited file is still a well-formed golden: only the manifest can catch it.
        let edited = try #require(replacingFirst("\"rtol\": 1e-05", with: "\"rtol\": 1e-03", in: try gzipFile(path)))
        #expect(try GoldenFile.decode(edited, source: "edited").goldenCase.tensors[0].compare == .allclose(rtol: 1e-3, atol: 1e-6))
        try AtomicFile.write(try Gzip.compress(edited, source: path), to: path)
        try expectFailureNaming(path, in: root, containing: "does not match")
    }

    @Test("a corrupt manifest is reported naming MANIFEST.json")
    func corruptManifest() throws {
        let root = try Self.acceptedRoot()
        try AtomicFile.write("{\"goldens\": [", to: root.store.manifestPath)
        let message = thrownMessage { _ = try root.store.verifyTree() }
        #expect(message?.contains("MANIFEST.json") == true)
    }

    @Test("verifying a sub-path checks only the goldens below it")
    func subpath() throws {
        let root = try Self.acceptedRoot()
        #expect(try root.store.verifyTree(subpath: "unit").verified == [Self.relative])
        #expect(try root.store.verifyTree(subpath: Self.relative).verified == [Self.relative])
        #expect(thrownMessage { _ = try root.store.verifyTree(subpath: "nothing") }?.contains("no goldens there") == true)
    }
}

func unlinkFile(_ path: String) -> Bool {
    Subprocess.run(["rm", path])?.status == 0
}

/// `bytes` with the first occurrence of `target` replaced (binary-safe), nil if it does not occur.
func replacingFirst(_ target: String, with replacement: String, in bytes: [UInt8]) -> [UInt8]? {
    let needle = Array(target.utf8)
    guard let start = (0 ... bytes.count - needle.count).first(where: { bytes[$0 ..< $0 + needle.count].elementsEqual(needle) }) else { return nil }
    return Array(bytes[..<start]) + Array(replacement.utf8) + Array(bytes[(start + needle.count)...])
}
