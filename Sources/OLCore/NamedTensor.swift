/// A named, shaped array of values: the common currency of checkpoints (safetensors), golden files and
/// optimiser state export. Row-major; `shape == []` is a scalar with one value.
public struct NamedTensor: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
        case int64([Int64])
        case uint8([UInt8])
        /// Integer weights of an exported quantised model (`olab quantize`).
        case int8([Int8])

        public var count: Int {
            switch self {
            case .float32(let v): v.count
            case .float64(let v): v.count
            case .int64(let v): v.count
            case .uint8(let v): v.count
            case .int8(let v): v.count
            }
        }

        /// The safetensors / NumPy-style dtype name: F32, F64, I64, U8, I8.
        public var dtype: String { TensorDType(self).rawValue }
    }

    public var name: String
    public var shape: [Int]
    public var values: Values

    public init(name: String, shape: [Int], values: Values) {
        precondition(shape.reduce(1, *) == values.count, "tensor \(name): shape \(shape) does not match \(values.count) values")
        self.name = name
        self.shape = shape
        self.values = values
    }

    public init(name: String, shape: [Int], floats: [Float]) {
        self.init(name: name, shape: shape, values: .float32(floats))
    }

    /// The values as Float, if this is a float32 tensor.
    public var floats: [Float]? { if case .float32(let v) = values { v } else { nil } }
    /// The values as Double, if this is a float64 tensor.
    public var doubles: [Double]? { if case .float64(let v) = values { v } else { nil } }
    /// The values as Int64, if this is an int64 tensor.
    public var int64s: [Int64]? { if case .int64(let v) = values { v } else { nil } }
    /// The values as Int8, if this is an int8 tensor.
    public var int8s: [Int8]? { if case .int8(let v) = values { v } else { nil } }
}
