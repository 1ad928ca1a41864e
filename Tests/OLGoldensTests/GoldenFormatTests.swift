import OLCore
import OLTestSupport
import Testing
@testable import OLGoldens

@Suite("golden file format")
struct GoldenFormatTests {
    static let specialTensors: [NamedTensor] = [
        NamedTensor(name: "f32", shape: [3, 3], values: .float32([
            -0.0, 0.0, .nan, Float(bitPattern: 0x7FC0_0123), -.infinity, .infinity,
            .leastNonzeroMagnitude, Float(bitPattern: 0x0000_7FFF), .greatestFiniteMagnitude,
        ])),
        NamedTensor(name: "f64", shape: [2, 4], values: .float64([
            -0.0, .nan, Double(bitPattern: 0xFFF8_0000_DEAD_BEEF), .infinity,
            -.infinity, .leastNonzeroMagnitude, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), 0.1,
        ])),
        NamedTensor(name: "i64", shape: [4], values: .int64([.min, -1, 0, .max])),
        NamedTensor(name: "u8", shape: [1, 3], values: .uint8([0, 128, 255])),
        NamedTensor(name: "scalar", shape: [], values: .float32([Float(bitPattern: 0x8000_0001)])),
        NamedTensor(name: "empty", shape: [0, 5], values: .float32([])),
    ]

    @Test("every dtype round-trips bit for bit, including -0.0, NaN payloads, infinities and subnormals",
          arguments: specialTensors)
    func roundTripExactBits(tensor: NamedTensor) throws {
        let file = GoldenFile(goldenCase: GoldenCase(suite: "unit", name: "bits", kind: "format", seed: 1,
                                                    tensors: [GoldenTensor(tensor, compare: .exact)]), provenance: Sample.provenance)
        let compressed = try file.compressed(source: "bits")
        let decoded = try GoldenFile.decode(Gzip.decompress(compressed, source: "bits"), source: "bits")
        let back = try #require(decoded.goldenCase.tensors.first?.tensor)
        var originalBytes: [UInt8] = [], decodedBytes: [UInt8] = []
        TensorDType.appendLittleEndian(tensor.values, to: &originalBytes)
        TensorDType.appendLittleEndian(back.values, to: &decodedBytes)
        expectBitwiseEqual(decodedBytes, originalBytes, "decoded tensor bytes")
        #expect(back.shape == tensor.shape && back.values.dtype == tensor.values.dtype)
        #expect(TensorComparison.compare(actual: back, golden: tensor, mode: .exact).passed)
    }

    @Test("the whole case and provenance survive encoding, including seeds above Int64.max")
    func caseRoundTrip() throws {
        var goldenCase = Sample.goldenCase()
        goldenCase.seed = .max
        goldenCase.tensors.append(GoldenTensor(NamedTensor(name: "vectors", shape: [2, 2], floats: [1, 0, 0, 1]),
                                               compare: .signCanonical(rtol: 1e-4, atol: 1e-6, axis: 0)))
        let file = GoldenFile(goldenCase: goldenCase, provenance: Sample.provenance)
        let decoded = try GoldenFile.decode(file.encoded(), source: "case")
        #expect(decoded == file)
    }

    @Test("the header carries every field of the documented schema")
    func headerSchema() throws {
        let bytes = try GoldenFile(goldenCase: Sample.goldenCase(), provenance: Sample.provenance).encoded()
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        let lines = text.split(separator: "\n", maxSplits: 2)
        #expect(lines[0] == "OLGOLDEN 1")
        let length = try #require(Int(lines[1]))
        let headerStart = lines[0].utf8.count + lines[1].utf8.count + 2
        let header = try JSONValue.parse(bytes: Array(bytes[headerStart ..< headerStart + length]))
        #expect(header.objectMembers?.map(\.key) == ["format_version", "suite", "case", "kind", "config", "seed", "recorded_by", "blas", "tensors"])
        #expect(header["recorded_by"]?.objectMembers?.map(\.key) == ["harness_version", "git_revision"])
        #expect(header["blas"]?.objectMembers?.map(\.key) == ["config", "core", "threads"])
        let out = try #require(header["tensors"]?.arrayValue?.first)
        #expect(out.objectMembers?.map(\.key) == ["name", "dtype", "shape", "offset", "length", "compare"])
        #expect(out["compare"] == .object(["mode": "allclose", "rtol": 1e-5, "atol": 1e-6]))
        #expect(out["length"]?.intValue == 24)
        #expect(bytes.count == headerStart + length + 24 + 8 + 32 + 4)
    }

    @Test("a newer format version is refused with a message saying to update; an unknown older one is refused too")
    func formatVersions() throws {
        var bytes = try GoldenFile(goldenCase: Sample.goldenCase(), provenance: Sample.provenance).encoded()
        bytes[9] = UInt8(ascii: "2")
        let newer = thrownMessage { _ = try GoldenFile.decode(bytes, source: "unit/new.golden.gz") }
        #expect(newer?.contains("unit/new.golden.gz: golden format version 2 is newer than this harness reads (up to 1)") == true)
        bytes[9] = UInt8(ascii: "0")
        #expect(thrownMessage { _ = try GoldenFile.decode(bytes, source: "old") }?.contains("unknown golden format version 0") == true)
    }

    enum Damage: String, CaseIterable, Sendable {
        case badMagic, dataCutShort, extraData, headerCutShort

        func apply(_ bytes: inout [UInt8]) {
            switch self {
            case .badMagic: bytes[0] = UInt8(ascii: "X")
            case .dataCutShort: bytes.removeLast(3)
            case .extraData: bytes.append(0)
            case .headerCutShort: bytes.removeLast(bytes.count - 40)
            }
        }

        var expected: String {
            switch self {
            case .badMagic: "not an OutlierLab golden"
            case .dataCutShort: "truncated golden"
            case .extraData: "1 bytes of data after the last tensor"
            case .headerCutShort: "truncated golden (header"
            }
        }
    }

    @Test("damaged content is refused with a message naming the source", arguments: Damage.allCases)
    func damagedContent(damage: Damage) throws {
        var bytes = try GoldenFile(goldenCase: Sample.goldenCase(), provenance: Sample.provenance).encoded()
        damage.apply(&bytes)
        let message = thrownMessage { _ = try GoldenFile.decode(bytes, source: "unit/damaged.golden.gz") }
        #expect(message?.hasPrefix("unit/damaged.golden.gz") == true)
        #expect(message?.contains(damage.expected) == true, "\(message ?? "nothing thrown")")
    }

    @Test("invalid cases are refused before anything is written", arguments: [
        (GoldenCase(suite: "../up", name: "x", kind: "k", seed: 0, tensors: []), "suite name"),
        (GoldenCase(suite: "unit", name: "", kind: "k", seed: 0, tensors: []), "case name"),
        (GoldenCase(suite: "unit", name: "x", kind: "k", seed: 0, tensors: [
            GoldenTensor(NamedTensor(name: "a", shape: [1], floats: [1]), compare: .exact),
            GoldenTensor(NamedTensor(name: "a", shape: [1], floats: [1]), compare: .exact),
        ]), "appears twice"),
        (GoldenCase(suite: "unit", name: "x", kind: "k", seed: 0, tensors: [
            GoldenTensor(NamedTensor(name: "ids", shape: [2], values: .int64([1, 2])), compare: .signCanonical(rtol: 0, atol: 0, axis: 0)),
        ]), "sign_canonical needs F32 or F64"),
        (GoldenCase(suite: "unit", name: "x", kind: "k", seed: 0, tensors: [
            GoldenTensor(NamedTensor(name: "v", shape: [2], floats: [1, 2]), compare: .signCanonical(rtol: 0, atol: 0, axis: 1)),
        ]), "axis 1 is outside"),
        (GoldenCase(suite: "unit", name: "x", kind: "k", seed: 0, tensors: [
            GoldenTensor(NamedTensor(name: "v", shape: [2], floats: [1, 2]), compare: .allclose(rtol: -1, atol: 0)),
        ]), "non-negative"),
        (GoldenCase(suite: "unit", name: "x", kind: "k", config: .object(["lr": .double(.infinity)]), seed: 0, tensors: []), "non-finite number"),
    ])
    func invalidCases(goldenCase: GoldenCase, expected: String) {
        let message = thrownMessage { try goldenCase.validate() }
        #expect(message?.contains(expected) == true, "\(message ?? "nothing thrown")")
    }
}

@Suite("gzip through zlib")
struct GzipTests {
    static let content = Array((0 ..< 200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })

    @Test("compress then decompress returns the input, across several output chunks")
    func roundTrip() throws {
        let compressed = try Gzip.compress(Self.content, source: "t")
        #expect(compressed.prefix(3) == [0x1F, 0x8B, 0x08])
        #expect(try Gzip.decompress(compressed, source: "t") == Self.content)
    }

    @Test("a truncated stream is refused as truncated, naming the file", arguments: [20, 1000, -1])
    func truncated(keep: Int) throws {
        var compressed = try Gzip.compress(Self.content, source: "t")
        compressed = Array(compressed.prefix(keep < 0 ? compressed.count - 1 : keep))
        let message = thrownMessage { _ = try Gzip.decompress(compressed, source: "Goldens/unit/x.golden.gz") }
        #expect(message?.hasPrefix("Goldens/unit/x.golden.gz: truncated gzip file") == true, "\(message ?? "nothing thrown")")
    }

    @Test("output beyond the size cap is refused instead of exhausting memory")
    func decompressionCap() throws {
        let compressed = try Gzip.compress([UInt8](repeating: 0, count: 1 << 20), source: "t")
        let message = thrownMessage { _ = try Gzip.decompress(compressed, limit: 100_000, source: "bomb.gz") }
        #expect(message == "bomb.gz: refusing a gzip file that decompresses to more than 100000 bytes")
        #expect(try Gzip.decompress(compressed, limit: 1 << 20, source: "t").count == 1 << 20)
    }

    @Test("trailing bytes after the stream and non-gzip input are refused as corrupt")
    func trailingAndForeign() throws {
        let compressed = try Gzip.compress([1, 2, 3], source: "t")
        #expect(thrownMessage { _ = try Gzip.decompress(compressed + [0], source: "f") }?.contains("1 trailing bytes") == true)
        #expect(thrownMessage { _ = try Gzip.decompress(Array("plain text, not gzip!".utf8), source: "f") } == "f: not a gzip file (corrupt or truncated)")
    }
}
