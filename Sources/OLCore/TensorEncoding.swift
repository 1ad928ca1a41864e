/// The element types tensors are stored as, with their safetensors/NumPy names, and their little-endian
/// byte encoding: the one codec behind safetensors files and golden files.
public enum TensorDType: String, Sendable, CaseIterable {
    case f32 = "F32", f64 = "F64", i64 = "I64", u8 = "U8", i8 = "I8"

    public init(_ values: NamedTensor.Values) {
        self = switch values {
        case .float32: .f32
        case .float64: .f64
        case .int64: .i64
        case .uint8: .u8
        case .int8: .i8
        }
    }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: 4
        case .f64, .i64: 8
        case .u8, .i8: 1
        }
    }

    /// Appends the little-endian bytes of every value.
    public static func appendLittleEndian(_ values: NamedTensor.Values, to data: inout [UInt8]) {
        func append<T: FixedWidthInteger>(_ words: some Sequence<T>) {
            for word in words { withUnsafeBytes(of: word.littleEndian) { data.append(contentsOf: $0) } }
        }
        switch values {
        case .float32(let v): data.reserveCapacity(data.count + 4 * v.count); append(v.lazy.map(\.bitPattern))
        case .float64(let v): data.reserveCapacity(data.count + 8 * v.count); append(v.lazy.map(\.bitPattern))
        case .int64(let v): data.reserveCapacity(data.count + 8 * v.count); append(v)
        case .uint8(let v): data.append(contentsOf: v)
        case .int8(let v): data.append(contentsOf: v.map { UInt8(bitPattern: $0) })
        }
    }

    /// The values little-endian `bytes` hold (a whole number of elements of this type).
    public func decode(_ bytes: UnsafeRawBufferPointer) -> NamedTensor.Values {
        func words<T: FixedWidthInteger>(_: T.Type) -> [T] {
            (0 ..< bytes.count / MemoryLayout<T>.size).map {
                T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))
            }
        }
        return switch self {
        case .f32: .float32(words(UInt32.self).map(Float.init(bitPattern:)))
        case .f64: .float64(words(UInt64.self).map(Double.init(bitPattern:)))
        case .i64: .int64(words(Int64.self))
        case .u8: .uint8(Array(bytes))
        case .i8: .int8(bytes.map { Int8(bitPattern: $0) })
        }
    }
}

/// Appends the little-endian bytes of `value`.
@inline(__always) func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    var word = value.littleEndian
    withUnsafeBytes(of: &word) { bytes.append(contentsOf: $0) }
}

/// The little-endian integer at byte `offset` of `bytes` (bounds checked by the caller).
@inline(__always) func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, from bytes: [UInt8], at offset: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
}
