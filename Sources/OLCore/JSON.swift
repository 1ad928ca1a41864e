import CJSON

/// A JSON value parsed and written with json-c. Objects keep their key order (json-c iterates in
/// insertion order), so files we write are stable and diffable.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// Parses a complete JSON document; trailing non-space text, bad syntax or over-deep nesting throw
    /// with json-c's description and the byte offset.
    public static func parse(_ text: String, source: String = "JSON") throws -> JSONValue {
        try parse(bytes: Array(text.utf8), source: source)
    }

    public static func parse(bytes: [UInt8], source: String = "JSON") throws -> JSONValue {
        guard let tokener = json_tokener_new() else { throw OutlierLabError("\(source): out of memory parsing JSON") }
        defer { json_tokener_free(tokener) }
        guard bytes.count < Int(Int32.max) else { throw OutlierLabError("\(source): JSON document too large") }
        if let (number, offset, isInteger) = firstOutOfRangeNumber(bytes) {
            let shown = number.count > 40 ? String(number.prefix(40)) + "…" : number
            throw OutlierLabError(isInteger
                ? "\(source): integer \(shown) at byte \(offset) is out of range (integers must fit in 64 bits; they are refused, not clamped)"
                : "\(source): number \(shown) at byte \(offset) is out of range (not a finite double)")
        }
        let terminated = bytes + [0]
        let parsed: OpaquePointer? = terminated.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                // The terminating NUL is passed too: it tells json-c that a top-level number has ended.
                json_tokener_parse_ex(tokener, chars.baseAddress!, Int32(chars.count))
            }
        }
        let error = json_tokener_get_error(tokener)
        let end = min(bytes.count, Int(json_tokener_get_parse_end(tokener)))
        guard error == json_tokener_success, let object = parsed else {
            let reason = error == json_tokener_continue ? "unexpected end of input" : String(cString: json_tokener_error_desc(error))
            if let object = parsed { json_object_put(object) }
            throw OutlierLabError("\(source): invalid JSON (\(reason) near byte \(end))")
        }
        defer { json_object_put(object) }
        if bytes[end...].contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) {
            throw OutlierLabError("\(source): invalid JSON (unexpected text after the document at byte \(end))")
        }
        return try JSONValue(object, source: source)
    }

    /// The first number token outside strings that json-c would clamp: an integer beyond Int64 (json-c
    /// saturates it silently) or a decimal beyond the finite doubles (it becomes infinity). Returns its
    /// text, byte offset and whether it is an integer; malformed tokens are left to json-c to report.
    static func firstOutOfRangeNumber(_ bytes: [UInt8]) -> (String, Int, Bool)? {
        var index = 0, inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == 0x5C { index += 2; continue }          // backslash escape
                if byte == 0x22 { inString = false }
                index += 1
                continue
            }
            if byte == 0x22 { inString = true; index += 1; continue }
            guard byte == 0x2D || (0x30...0x39).contains(byte) else { index += 1; continue }
            let start = index
            while index < bytes.count, bytes[index] == 0x2D || bytes[index] == 0x2B || bytes[index] == 0x2E
                    || bytes[index] == 0x65 || bytes[index] == 0x45 || (0x30...0x39).contains(bytes[index]) {
                index += 1
            }
            let token = bytes[start..<index]
            let text = String(decoding: token, as: UTF8.self)
            let digits = token.first == 0x2D ? token.dropFirst() : token[...]
            if !digits.isEmpty && digits.allSatisfy({ (0x30...0x39).contains($0) }) {
                if Int64(text) == nil { return (text, start, true) }
            } else if let value = Double(text), !value.isFinite {
                return (text, start, false)
            }
        }
        return nil
    }

    private init(_ object: OpaquePointer?, source: String) throws {
        guard let object else { self = .null; return }
        switch json_object_get_type(object) {
        case json_type_null: self = .null
        case json_type_boolean: self = .bool(json_object_get_boolean(object) != 0)
        case json_type_int: self = .int(json_object_get_int64(object))
        case json_type_double: self = .double(json_object_get_double(object))
        case json_type_string:
            let length = Int(json_object_get_string_len(object))
            let pointer = json_object_get_string(object)!
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
            self = .string(String(decoding: bytes, as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            self = .array(try (0..<count).map { try JSONValue(json_object_array_get_idx(object, $0), source: source) })
        case json_type_object:
            var members: [JSONMember] = []
            var entry = json_object_get_object(object)?.pointee.head
            while let current = entry {
                let key = String(cString: current.pointee.k.assumingMemoryBound(to: CChar.self))
                let child = OpaquePointer(current.pointee.v)
                members.append(JSONMember(key, try JSONValue(child, source: source)))
                entry = current.pointee.next
            }
            self = .object(members)
        default:
            throw OutlierLabError("\(source): unsupported JSON value type")
        }
    }

    /// Serialises with json-c. Doubles are written in Swift's shortest round-trip form; non-finite
    /// doubles have no JSON form and are written as null.
    public func serialized(pretty: Bool = false) -> String {
        let object = makeObject()
        defer { json_object_put(object) }
        let flags = (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) | JSON_C_TO_STRING_NOSLASHESCAPE
        guard let text = json_object_to_json_string_ext(object, Int32(flags)) else { return "null" }
        return String(cString: text)
    }

    private func makeObject() -> OpaquePointer? {
        switch self {
        case .null: return nil
        case .bool(let value): return json_object_new_boolean(value ? 1 : 0)
        case .int(let value): return json_object_new_int64(value)
        case .double(let value):
            guard value.isFinite else { return nil }
            return json_object_new_double_s(value, "\(value)")
        case .string(let value):
            let bytes = Array(value.utf8) + [0]
            return bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { json_object_new_string_len($0.baseAddress!, Int32($0.count - 1)) }
            }
        case .array(let values):
            let array = json_object_new_array()
            for value in values { json_object_array_add(array, value.makeObject()) }
            return array
        case .object(let members):
            let object = json_object_new_object()
            for member in members { json_object_object_add(object, member.key, member.value.makeObject()) }
            return object
        }
    }
}

/// One key/value pair of a JSON object, in file order.
public struct JSONMember: Equatable, Sendable {
    public let key: String
    public let value: JSONValue
    public init(_ key: String, _ value: JSONValue) { self.key = key; self.value = value }
}

extension JSONValue {
    /// The member named `key` of an object (the last one if repeated), else nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    public var objectMembers: [JSONMember]? { if case .object(let m) = self { m } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// A number as Double (integers convert exactly up to 2^53).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
    /// An integer, or a double with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .int(let i): Int(exactly: i)
        case .double(let d): Int(exactly: d)
        default: nil
        }
    }

    /// A Float constant as the Double of its shortest decimal spelling (1e-5, not 9.99999974737875e-06),
    /// so a header reads as the source does and a Double reader gets the value the source wrote.
    public static func shortest(_ value: Float) -> JSONValue { .double(Double("\(value)") ?? Double(value)) }

    /// Builds an object from ordered pairs.
    public static func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(pairs.map { JSONMember($0.key, $0.value) })
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}
