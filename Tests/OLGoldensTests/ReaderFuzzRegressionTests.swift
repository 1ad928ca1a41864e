import OLTestSupport
import Testing
@testable import OLCore
@testable import OLGoldens

/// Hostile golden contents of the kind `olab fuzz --target golden` generates: refused with one line
/// naming the file, without allocating what the header claims.
@Suite("Golden reader: hostile sizes and names")
struct GoldenReaderFuzzRegressionTests {
    func content(_ header: String, data: [UInt8] = []) -> [UInt8] {
        Array("OLGOLDEN 1\n\(header.utf8.count)\n\(header)".utf8) + data
    }

    static let prefix = #"{"format_version": 1, "suite": "s", "case": "c", "kind": "k", "config": {}, "seed": 1, "recorded_by": {"harness_version": "0", "git_revision": "x"}, "blas": {"config": "b", "core": "c", "threads": 1}, "tensors": "#

    func rejection(_ bytes: [UInt8]) -> String? {
        rejectionMessage { _ = try GoldenFile.decode(bytes, source: "g.golden.gz") }
    }

    @Test("a tensor claiming 2^40 floats, a header length past the limit, and a newline in a tensor name", arguments: [
        (#"[{"name": "t", "dtype": "F32", "shape": [1099511627776], "offset": 0, "length": 4398046511104, "compare": {"mode": "exact"}}]}"#,
         "truncated golden (tensor \"t\" data is cut short)"),
        (#"[{"name": "t", "dtype": "F32", "shape": [4294967296, 4294967296], "offset": 0, "length": 0, "compare": {"mode": "exact"}}]}"#,
         "does not match shape"),
        (#"[{"name": "a\nb", "dtype": "F32", "shape": [-1], "offset": 0, "length": 4, "compare": {"mode": "exact"}}]}"#,
         #"tensor "a\nb" has a bad shape"#),
    ])
    func hostileHeaders(tensors: String, expected: String) {
        let message = rejection(content(Self.prefix + tensors))
        #expect(message?.hasPrefix("g.golden.gz: ") == true && message?.contains(expected) == true, "\(message ?? "accepted")")
        #expect(message?.contains("\n") == false)
    }

    @Test("a header length line claiming more than the limit is refused before reading it")
    func hugeHeaderLength() {
        #expect(rejection(Array("OLGOLDEN 1\n999999999999\n{}".utf8))?.contains("bad header length") == true)
    }

    @Test("a gzip stream that inflates past the limit is refused at the limit")
    func decompressionBomb() throws {
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 4 << 20), source: "bomb")
        do {
            _ = try Gzip.decompress(bomb, limit: 1 << 20, source: "bomb.golden.gz")
            Issue.record("expected a refusal")
        } catch let error as OutlierLabError {
            #expect(error.message == "bomb.golden.gz: refusing a gzip file that decompresses to more than 1048576 bytes")
        }
    }
}
