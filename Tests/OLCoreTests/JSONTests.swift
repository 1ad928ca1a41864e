import Foundation
import OLTestSupport
import Testing
@testable import OLCore

@Suite("JSON through json-c")
struct JSONTests {
    @Test("a document round-trips through json-c with key order and values preserved")
    func roundTrip() throws {
        let value: JSONValue = .object([
            "zeta": 1, "alpha": 0.1, "list": [true, nil, "text \"quoted\" / slash", -3],
            "nested": .object(["eps": 1e-8, "big": 12_345_678_901]),
        ])
        let text = value.serialized()
        let parsed = try JSONValue.parse(text)
        #expect(parsed == value)
        #expect(parsed.objectMembers?.map(\.key) == ["zeta", "alpha", "list", "nested"])
    }

    @Test("doubles are written in shortest round-trip form", arguments: [0.1, 1e-8, 3e-4, 1.0 / 3.0, 14.71, -2.5e300])
    func shortestDoubles(value: Double) throws {
        let text = JSONValue.double(value).serialized()
        #expect(text == "\(value)")
        #expect(try JSONValue.parse(text).doubleValue == value)
    }

    @Test("non-finite doubles have no JSON form and are written as null")
    func nonFinite() {
        #expect(JSONValue.double(.nan).serialized() == "null")
        #expect(JSONValue.double(.infinity).serialized() == "null")
    }

    @Test("invalid documents throw one-line errors naming the source", arguments: [
        "{", "{\"a\": }", "[1, 2", "{} trailing", "", "nul",
    ])
    func invalid(text: String) {
        #expect(throws: OutlierLabError.self) { try JSONValue.parse(text, source: "config.json") }
        do { _ = try JSONValue.parse(text, source: "config.json") } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("config.json: invalid JSON"))
            #expect(!error.message.contains("\n"))
        } catch { Issue.record("unexpected error type \(error)") }
    }

    @Test("accessors convert integers and exact doubles but not other types")
    func accessors() throws {
        let value = try JSONValue.parse(#"{"a": 3, "b": 2.0, "c": 2.5, "d": "x"}"#)
        #expect(value["a"]?.intValue == 3)
        #expect(value["b"]?.intValue == 2)
        #expect(value["c"]?.intValue == nil)
        #expect(value["c"]?.doubleValue == 2.5)
        #expect(value["d"]?.doubleValue == nil)
        #expect(value["missing"] == nil)
    }
}

@Suite("SHA-256")
struct SHA256Tests {
    @Test("matches the FIPS 180-4 test vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func vectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test("one million 'a' hashed in uneven pieces gives the published digest")
    func millionA() {
        var hasher = SHA256()
        var remaining = 1_000_000
        var piece = 1
        while remaining > 0 {
            let n = min(piece, remaining)
            hasher.update([UInt8](repeating: 0x61, count: n))
            remaining -= n
            piece = piece * 3 + 1
        }
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite("Atomic files")
struct AtomicFileTests {
    func scratchDirectory() throws -> String {
        try OLTestSupport.scratchDirectory("atomic-files")
    }

    @Test("a write replaces the file whole and leaves no temporary file behind")
    func replaces() throws {
        let dir = try scratchDirectory()
        let path = dir + "/out.txt"
        try AtomicFile.write("first", to: path)
        try AtomicFile.write("second version", to: path)
        #expect(try FileBytes.readText(path) == "second version")
        #expect(try listDirectory(dir) == ["out.txt"])
    }

    @Test("a write into a missing directory fails with a message naming the file and keeps nothing")
    func missingDirectory() throws {
        let path = "/tmp/olab-no-such-dir-\(ProcessInfo.processInfo.processIdentifier)/x/out.txt"
        #expect(throws: OutlierLabError.self) { try AtomicFile.write("x", to: path) }
        #expect(!FilePath.exists(path))
    }

    @Test("reading a missing file or a directory gives a one-line error naming the path")
    func readErrors() throws {
        do { _ = try FileBytes.read("/nonexistent/file"); Issue.record("expected an error") } catch let error as OutlierLabError {
            #expect(error.message == "cannot read /nonexistent/file: No such file or directory")
        }
        #expect(throws: OutlierLabError.self) { try FileBytes.read("/tmp") }
    }
}
