import OLCore

/// Who and what recorded a golden: kept in the header so a reviewer can tell goldens from different
/// harness versions, revisions and BLAS builds apart. Never compared when verifying.
public struct GoldenProvenance: Sendable, Equatable {
    public var harnessVersion: String
    public var gitRevision: String
    public var blasConfig: String
    public var blasCore: String
    public var blasThreads: Int

    public init(harnessVersion: String, gitRevision: String, blasConfig: String, blasCore: String, blasThreads: Int) {
        self.harnessVersion = harnessVersion
        self.gitRevision = gitRevision
        self.blasConfig = blasConfig
        self.blasCore = blasCore
        self.blasThreads = blasThreads
    }

    /// This process: the harness version, `git rev-parse --short HEAD` in `packageRoot`, and the BLAS.
    public static func current(packageRoot: String) -> GoldenProvenance {
        let blas = BLASInfo.current
        return GoldenProvenance(
            harnessVersion: Harness.version, gitRevision: GitRevision.short(in: packageRoot),
            blasConfig: blas.config, blasCore: blas.coreName, blasThreads: blas.threads
        )
    }
}

/// A golden file: a case, its provenance and the format version it was written in.
///
/// Uncompressed layout (the whole thing is one gzip member):
///
///     OLGOLDEN <format_version>\n
///     <header byte length, decimal ASCII>\n
///     <header: UTF-8 JSON, exactly that many bytes>
///     <tensor data: raw little-endian values, each tensor at header offset/length, contiguous>
///
/// Offsets are relative to the first byte after the header.
public struct GoldenFile: Sendable, Equatable {
    /// The format version this harness writes.
    public static let currentFormatVersion = 1
    /// Every format version this harness can read: older ones keep verifying after an upgrade.
    public static let readableFormatVersions: ClosedRange<Int> = 1...1
    static let magic = "OLGOLDEN"
    static let headerLimit = 64 << 20

    public var formatVersion: Int
    public var goldenCase: GoldenCase
    public var provenance: GoldenProvenance

    public init(goldenCase: GoldenCase, provenance: GoldenProvenance, formatVersion: Int = GoldenFile.currentFormatVersion) {
        self.goldenCase = goldenCase
        self.provenance = provenance
        self.formatVersion = formatVersion
    }

    // MARK: Encoding

    /// The uncompressed content: magic line, header length line, JSON header, tensor data.
    public func encoded() throws -> [UInt8] {
        try goldenCase.validate()
        var data: [UInt8] = []
        var descriptors: [JSONValue] = []
        for entry in goldenCase.tensors {
            let offset = data.count
            TensorDType.appendLittleEndian(entry.tensor.values, to: &data)
            descriptors.append(.object([
                "name": .string(entry.tensor.name),
                "dtype": .string(entry.tensor.values.dtype),
                "shape": .array(entry.tensor.shape.map { .int(Int64($0)) }),
                "offset": .int(Int64(offset)),
                "length": .int(Int64(data.count - offset)),
                "compare": Self.json(entry.compare),
            ]))
        }
        let header: JSONValue = .object([
            "format_version": .int(Int64(formatVersion)),
            "suite": .string(goldenCase.suite),
            "case": .string(goldenCase.name),
            "kind": .string(goldenCase.kind),
            "config": goldenCase.config,
            "seed": goldenCase.seed <= UInt64(Int64.max) ? .int(Int64(goldenCase.seed)) : .string(String(goldenCase.seed)),
            "recorded_by": .object([
                "harness_version": .string(provenance.harnessVersion),
                "git_revision": .string(provenance.gitRevision),
            ]),
            "blas": .object([
                "config": .string(provenance.blasConfig),
                "core": .string(provenance.blasCore),
                "threads": .int(Int64(provenance.blasThreads)),
            ]),
            "tensors": .array(descriptors),
        ])
        let headerBytes = Array(header.serialized(pretty: true).utf8)
        return Array("\(Self.magic) \(formatVersion)\n\(headerBytes.count)\n".utf8) + headerBytes + data
    }

    /// The gzip-compressed file content.
    public func compressed(source: String) throws -> [UInt8] {
        try Gzip.compress(encoded(), source: source)
    }

    static func json(_ mode: CompareMode) -> JSONValue {
        switch mode {
        case .exact: .object(["mode": "exact"])
        case .allclose(let rtol, let atol): .object(["mode": "allclose", "rtol": .double(rtol), "atol": .double(atol)])
        case .signCanonical(let rtol, let atol, let axis):
            .object(["mode": "sign_canonical", "rtol": .double(rtol), "atol": .double(atol), "axis": .int(Int64(axis))])
        }
    }

    // MARK: Decoding

    /// Parses uncompressed content; every inconsistency throws a one-line error starting with `source`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> GoldenFile {
        var cursor = 0
        func line(_ what: String, maxLength: Int) throws -> String {
            guard let end = bytes[cursor...].prefix(maxLength + 1).firstIndex(of: 0x0A) else {
                throw OutlierLabError("\(source): not an OutlierLab golden (no \(what) line)")
            }
            defer { cursor = end + 1 }
            return String(decoding: bytes[cursor ..< end], as: UTF8.self)
        }
        let magicLine = try line("OLGOLDEN magic", maxLength: 32)
        let words = magicLine.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 2, words[0] == magic, let version = Int(words[1]) else {
            throw OutlierLabError("\(source): not an OutlierLab golden (first line is not \"\(magic) <version>\")")
        }
        guard version <= readableFormatVersions.upperBound else {
            throw OutlierLabError("\(source): golden format version \(version) is newer than this harness reads (up to \(readableFormatVersions.upperBound)); update OutlierLab")
        }
        guard readableFormatVersions.contains(version) else {
            throw OutlierLabError("\(source): unknown golden format version \(version)")
        }
        let lengthLine = try line("header length", maxLength: 12)
        guard let headerLength = Int(lengthLine), headerLength > 0, headerLength <= headerLimit, lengthLine.allSatisfy(\.isASCII) else {
            throw OutlierLabError("\(source): bad header length \"\(lengthLine)\"")
        }
        guard bytes.count - cursor >= headerLength else { throw OutlierLabError("\(source): truncated golden (header is cut short)") }
        let header = try JSONValue.parse(bytes: Array(bytes[cursor ..< cursor + headerLength]), source: "\(source) header")
        let data = bytes[(cursor + headerLength)...]
        do {
            return try decode(header: header, formatVersion: version, data: data, source: source)
        } catch let error as OutlierLabError {
            // Tensor names and header strings come from the file: escaped, so that the error stays one line.
            throw OutlierLabError(error.message.escapingControlCharacters)
        }
    }

    private static func decode(header: JSONValue, formatVersion: Int, data: ArraySlice<UInt8>, source: String) throws -> GoldenFile {
        func field<T>(_ value: JSONValue?, _ name: String, _ get: (JSONValue) -> T?) throws -> T {
            try headerField(value, name, source: source, get)
        }
        guard try field(header["format_version"], "format_version", \.intValue) == formatVersion else {
            throw OutlierLabError("\(source): header format_version disagrees with the first line")
        }
        let seedValue = try field(header["seed"], "seed") { $0 }
        let seed: UInt64
        switch seedValue {
        case .int(let value) where value >= 0: seed = UInt64(value)
        case .string(let text) where UInt64(text) != nil: seed = UInt64(text)!
        default: throw OutlierLabError("\(source): header field seed must be a non-negative integer")
        }
        let recordedBy = header["recorded_by"], blas = header["blas"]
        let provenance = GoldenProvenance(
            harnessVersion: try field(recordedBy?["harness_version"], "recorded_by.harness_version", \.stringValue),
            gitRevision: try field(recordedBy?["git_revision"], "recorded_by.git_revision", \.stringValue),
            blasConfig: try field(blas?["config"], "blas.config", \.stringValue),
            blasCore: try field(blas?["core"], "blas.core", \.stringValue),
            blasThreads: try field(blas?["threads"], "blas.threads", \.intValue)
        )
        let tensors = try decodeTensors(try field(header["tensors"], "tensors", \.arrayValue), data: data, source: source)
        let goldenCase = GoldenCase(
            suite: try field(header["suite"], "suite", \.stringValue),
            name: try field(header["case"], "case", \.stringValue),
            kind: try field(header["kind"], "kind", \.stringValue),
            config: try field(header["config"], "config") { $0.objectMembers == nil ? nil : $0 },
            seed: seed,
            tensors: tensors
        )
        do { try goldenCase.validate() } catch let error as OutlierLabError { throw OutlierLabError("\(source): \(error.message)") }
        return GoldenFile(goldenCase: goldenCase, provenance: provenance, formatVersion: formatVersion)
    }

    private static func headerField<T>(_ value: JSONValue?, _ name: String, source: String, _ get: (JSONValue) -> T?) throws -> T {
        guard let value, let result = get(value) else { throw OutlierLabError("\(source): header field \(name) is missing or has the wrong type") }
        return result
    }

    /// The tensors the header's descriptors name, read from `data` (contiguous, in order, covering it).
    private static func decodeTensors(_ descriptors: [JSONValue], data: ArraySlice<UInt8>, source: String) throws -> [GoldenTensor] {
        func field<T>(_ value: JSONValue?, _ name: String, _ get: (JSONValue) -> T?) throws -> T {
            try headerField(value, name, source: source, get)
        }
        var tensors: [GoldenTensor] = []
        var expectedOffset = 0
        for (index, descriptor) in descriptors.enumerated() {
            let label = "tensors[\(index)]"
            let name = try field(descriptor["name"], "\(label).name", \.stringValue)
            let dtype = try field(descriptor["dtype"], "\(label).dtype", \.stringValue)
            let shape = try field(descriptor["shape"], "\(label).shape") { $0.arrayValue?.compactMap(\.intValue) }
            guard shape.count == descriptor["shape"]?.arrayValue?.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw OutlierLabError("\(source): tensor \"\(name)\" has a bad shape")
            }
            let offset = try field(descriptor["offset"], "\(label).offset", \.intValue)
            let length = try field(descriptor["length"], "\(label).length", \.intValue)
            guard let type = TensorDType(rawValue: dtype) else { throw OutlierLabError("\(source): tensor \"\(name)\" has unknown dtype \(dtype)") }
            let itemSize = type.size
            let (count, overflow) = shape.reduce((1, false)) { acc, dim in
                let (product, o) = acc.0.multipliedReportingOverflow(by: dim)
                return (product, acc.1 || o)
            }
            guard !overflow, count.multipliedReportingOverflow(by: itemSize) == (length, false) else {
                throw OutlierLabError("\(source): tensor \"\(name)\" length \(length) does not match shape \(shape) of \(dtype)")
            }
            guard offset == expectedOffset else { throw OutlierLabError("\(source): tensor \"\(name)\" offset \(offset) should be \(expectedOffset) (tensors are contiguous)") }
            guard data.count - offset >= length else { throw OutlierLabError("\(source): truncated golden (tensor \"\(name)\" data is cut short)") }
            let start = data.startIndex + offset
            let values = data[start ..< start + length].withUnsafeBytes { type.decode($0) }
            let compare = try compareMode(descriptor["compare"], tensor: name, source: source)
            tensors.append(GoldenTensor(NamedTensor(name: name, shape: shape, values: values), compare: compare))
            expectedOffset += length
        }
        guard expectedOffset == data.count else {
            throw OutlierLabError("\(source): \(data.count - expectedOffset) bytes of data after the last tensor")
        }
        return tensors
    }

    private static func compareMode(_ value: JSONValue?, tensor: String, source: String) throws -> CompareMode {
        let problem = OutlierLabError("\(source): tensor \"\(tensor)\" has a bad compare mode")
        guard let value, let mode = value["mode"]?.stringValue else { throw problem }
        switch mode {
        case "exact": return .exact
        case "allclose", "sign_canonical":
            guard let rtol = value["rtol"]?.doubleValue, let atol = value["atol"]?.doubleValue else { throw problem }
            if mode == "allclose" { return .allclose(rtol: rtol, atol: atol) }
            guard let axis = value["axis"]?.intValue else { throw problem }
            return .signCanonical(rtol: rtol, atol: atol, axis: axis)
        default:
            throw OutlierLabError("\(source): tensor \"\(tensor)\" has unknown compare mode \"\(mode)\"")
        }
    }
}
