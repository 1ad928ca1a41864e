/// The safetensors file format (huggingface/safetensors), so that checkpoints open in PyTorch/NumPy with
/// `safetensors.numpy.load_file` or `safetensors.torch.load_file`.
///
/// Layout: an 8-byte little-endian u64 `N`; `N` bytes of UTF-8 JSON header; the data buffer. The header is
/// an object with one entry per tensor, `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`
/// (offsets relative to the buffer start), and an optional `"__metadata__"` object of string → string.
///
/// Writing: `__metadata__` comes first (keys in byte order), then the tensors **in the order given**, their
/// data laid out back to back in that same order; values are raw little-endian; the header is padded with
/// spaces so that the buffer starts at a multiple of 8 bytes.
///
/// Reading validates everything before touching the data and throws a one-line `OutlierLabError` naming the
/// file: the length prefix (at least 8 bytes, header ≤ `maximumHeaderBytes` and inside the file), UTF-8 and
/// JSON syntax, a top-level object, duplicate top-level keys, entry fields (exactly dtype, shape and
/// data_offsets, with JSON integers), the dtype, dims (non-negative, products overflow-checked), byte
/// lengths (end − begin = count · size), and that the tensors tile the buffer exactly: no gap, overlap or
/// trailing byte. Tensors come back in buffer order.
public enum Safetensors {
    /// Headers larger than this are refused before parsing (the reference implementation uses 100 MB too).
    public static let maximumHeaderBytes = 100_000_000

    /// The contents of a safetensors file.
    public struct Contents: Sendable, Equatable {
        public var tensors: [NamedTensor]
        public var metadata: [String: String]
        public init(tensors: [NamedTensor], metadata: [String: String] = [:]) {
            self.tensors = tensors
            self.metadata = metadata
        }

        /// The tensor named `name`, if present.
        public subscript(name: String) -> NamedTensor? { tensors.first { $0.name == name } }
    }

    /// Writes `tensors` and `metadata` to `path` atomically (temporary file, fsync, rename).
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata, source: path), to: path)
    }

    /// The bytes of a safetensors file; `source` names the destination in errors.
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:], source: String = "safetensors") throws -> [UInt8] {
        var members: [JSONMember] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            members.append(JSONMember(metadataKey, .object(keys.map { JSONMember($0, .string(metadata[$0]!)) })))
        }
        var seen = Set<String>()
        var offset = 0
        for tensor in tensors {
            guard tensor.name != metadataKey else { throw OutlierLabError("\(source): a tensor may not be named \(metadataKey)") }
            guard seen.insert(tensor.name).inserted else { throw OutlierLabError("\(source): duplicate tensor name \(tensor.name)") }
            let byteCount = tensor.values.count * TensorDType(tensor.values).size
            members.append(JSONMember(tensor.name, .object([
                JSONMember("dtype", .string(tensor.values.dtype)),
                JSONMember("shape", .array(tensor.shape.map { .int(Int64($0)) })),
                JSONMember("data_offsets", [.int(Int64(offset)), .int(Int64(offset + byteCount))]),
            ])))
            offset += byteCount
        }
        var header = Array(JSONValue.object(members).serialized().utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        appendLittleEndian(UInt64(header.count), to: &bytes)
        bytes += header
        for tensor in tensors { TensorDType.appendLittleEndian(tensor.values, to: &bytes) }
        return bytes
    }

    /// Reads and validates the safetensors file at `path`.
    public static func read(_ path: String) throws -> Contents {
        try decode(FileBytes.read(path), source: path)
    }

    /// Validates and decodes safetensors bytes; `source` names the file in errors.
    public static func decode(_ bytes: [UInt8], source: String = "safetensors") throws -> Contents {
        // Tensor names and keys come from the file: escaped, so that the error stays one line.
        let failure = { (reason: String) in OutlierLabError("\(source): not a valid safetensors file: \(reason.escapingControlCharacters)") }
        let (members, headerLength) = try header(bytes, failure: failure)
        let bufferCount = bytes.count - 8 - headerLength
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for member in members {
            guard member.key == metadataKey else {
                entries.append(try entry(member, bufferCount: bufferCount, failure: failure))
                continue
            }
            guard let pairs = member.value.objectMembers else { throw failure("\(metadataKey) is not an object") }
            for pair in pairs {
                guard let text = pair.value.stringValue else { throw failure("\(metadataKey) value \(pair.key) is not a string") }
                metadata[pair.key] = text
            }
        }
        try requireTiling(&entries, bufferCount: bufferCount, failure: failure)
        let base = 8 + headerLength
        let tensors = bytes.withUnsafeBytes { raw in
            entries.map { entry in
                NamedTensor(name: entry.name, shape: entry.shape,
                            values: entry.dtype.decode(UnsafeRawBufferPointer(rebasing: raw[base + entry.begin ..< base + entry.end])))
            }
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// One tensor's header entry.
    private struct Entry {
        let name: String
        let dtype: TensorDType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    /// The header's members and its length, after the length, UTF-8, JSON and duplicate-key checks.
    private static func header(_ bytes: [UInt8], failure: (String) -> OutlierLabError) throws -> (members: [JSONMember], length: Int) {
        guard bytes.count >= 8 else { throw failure("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let declared = loadLittleEndian(UInt64.self, from: bytes, at: 0)
        guard declared <= UInt64(maximumHeaderBytes) else {
            throw failure("header length \(declared) exceeds the limit of \(maximumHeaderBytes) bytes")
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw failure("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = Array(bytes[8 ..< 8 + headerLength])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw failure("header is not valid UTF-8") }
        let header: JSONValue
        do { header = try JSONValue.parse(bytes: headerBytes, source: "header") } catch let error as OutlierLabError {
            throw failure(error.message)
        }
        guard let members = header.objectMembers else { throw failure("header is not a JSON object") }
        if let duplicate = duplicateTopLevelKey(headerBytes) { throw failure("duplicate entry \(duplicate)") }
        return (members, headerLength)
    }

    /// A tensor entry with exactly dtype, shape and data_offsets, whose span fits the buffer and the shape.
    private static func entry(_ member: JSONMember, bufferCount: Int, failure: (String) -> OutlierLabError) throws -> Entry {
        let name = member.key
        guard let fields = member.value.objectMembers else { throw failure("entry \(name) is not an object") }
        let keys = Set(fields.map(\.key))
        guard keys == ["dtype", "shape", "data_offsets"], fields.count == 3 else {
            throw failure("entry \(name) must have exactly dtype, shape and data_offsets (has \(fields.map(\.key).joined(separator: ", ")))")
        }
        guard let dtypeName = member.value["dtype"]?.stringValue else { throw failure("entry \(name): dtype is not a string") }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw failure("entry \(name): unsupported dtype \(dtypeName) (supported: F32, F64, I64, U8, I8)")
        }
        guard let shape = nonNegativeIntegers(member.value["shape"]) else {
            throw failure("entry \(name): shape is not an array of non-negative integers")
        }
        guard let offsets = nonNegativeIntegers(member.value["data_offsets"]), offsets.count == 2 else {
            throw failure("entry \(name): data_offsets is not two non-negative integers")
        }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw failure("entry \(name): shape \(shape) has too many elements") }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw failure("entry \(name): shape \(shape) has too many bytes") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw failure("entry \(name): data_offsets [\(begin), \(end)] are reversed") }
        guard end <= bufferCount else {
            throw failure("entry \(name): data_offsets [\(begin), \(end)] run past the \(bufferCount)-byte buffer")
        }
        guard end - begin == byteCount else {
            throw failure("entry \(name): data_offsets span \(end - begin) bytes but \(dtype.rawValue) shape \(shape) needs \(byteCount)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// The tensors must tile the buffer: sorted by offsets, each begins where the previous one ended.
    private static func requireTiling(_ entries: inout [Entry], bufferCount: Int, failure: (String) -> OutlierLabError) throws {
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for entry in entries {
            guard entry.begin >= covered else {
                throw failure("entry \(entry.name): data_offsets [\(entry.begin), \(entry.end)] overlap the previous tensor (ends at \(covered))")
            }
            guard entry.begin == covered else {
                throw failure("gap in the buffer: bytes \(covered)..<\(entry.begin) belong to no tensor")
            }
            covered = entry.end
        }
        guard covered == bufferCount else {
            throw failure("buffer has \(bufferCount) bytes but the tensors cover \(covered)")
        }
    }

    static let metadataKey = "__metadata__"

    /// The elements of a JSON array of non-negative JSON integers, else nil.
    private static func nonNegativeIntegers(_ value: JSONValue?) -> [Int]? {
        guard let array = value?.arrayValue else { return nil }
        var result: [Int] = []
        for element in array {
            guard case .int(let integer) = element, integer >= 0, let exact = Int(exactly: integer) else { return nil }
            result.append(exact)
        }
        return result
    }

    /// json-c keeps only the last of repeated keys, so repeated tensor names are found by scanning the
    /// (already syntax-checked) header text for the keys of the top-level object.
    private static func duplicateTopLevelKey(_ header: [UInt8]) -> String? {
        var seen = Set<[UInt8]>()
        var depth = 0
        var index = 0
        var expectingKey = false
        while index < header.count {
            let byte = header[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = byte == UInt8(ascii: "{") && depth == 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                index += 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
                index += 1
            case UInt8(ascii: "\""):
                let (key, next) = decodeString(header, from: index + 1)
                if expectingKey {
                    guard seen.insert(key).inserted else { return String(decoding: key, as: UTF8.self) }
                    expectingKey = false
                }
                index = next
            default:
                index += 1
            }
        }
        return nil
    }

    /// The UTF-8 bytes of the JSON string whose body starts at `start`, and the index after its closing quote.
    private static func decodeString(_ text: [UInt8], from start: Int) -> (bytes: [UInt8], next: Int) {
        var result: [UInt8] = []
        var index = start
        var pendingHighSurrogate: UInt32?
        while index < text.count, text[index] != UInt8(ascii: "\"") {
            guard text[index] == UInt8(ascii: "\\"), index + 1 < text.count else {
                result.append(text[index])
                index += 1
                continue
            }
            let escape = text[index + 1]
            index += 2
            let simple: [UInt8: UInt8] = [0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
            if escape == UInt8(ascii: "u"), index + 4 <= text.count,
               let code = UInt32(String(decoding: text[index ..< index + 4], as: UTF8.self), radix: 16)
            {
                index += 4
                if (0xD800..<0xDC00).contains(code) { pendingHighSurrogate = code; continue }
                var scalarValue = code
                if (0xDC00..<0xE000).contains(code), let high = pendingHighSurrogate {
                    scalarValue = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                }
                pendingHighSurrogate = nil
                let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
                result += Array(String(Character(scalar)).utf8)
            } else {
                result.append(simple[escape] ?? escape)
            }
        }
        return (result, index + 1)
    }
}
