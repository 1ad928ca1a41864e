import OLCore

/// Writes one parameter's state as `opt.<param>.<field>` tensors.
struct StateWriter {
    private(set) var tensors: [NamedTensor] = []

    mutating func floats(_ parameter: String, _ field: String, shape: [Int], _ values: [Float]) {
        tensors.append(NamedTensor(name: "opt.\(parameter).\(field)", shape: shape, values: .float32(values)))
    }

    mutating func step(_ parameter: String, _ value: Int) {
        tensors.append(NamedTensor(name: "opt.\(parameter).step", shape: [], values: .int64([Int64(value)])))
    }
}

/// Reads state tensors back, checking dtype and shape, and that nothing under `opt.` is left unread.
/// Tensors whose names do not start with `opt.` (parameters, data cursors …) are ignored.
struct StateReader {
    private var byName: [String: NamedTensor] = [:]
    private var unread: Set<String> = []

    init(_ tensors: [NamedTensor]) throws {
        for tensor in tensors where tensor.name.hasPrefix("opt.") {
            guard byName[tensor.name] == nil else { throw OutlierLabError("optimiser state has two tensors named \(tensor.name)") }
            byName[tensor.name] = tensor
            unread.insert(tensor.name)
        }
    }

    /// Whether any state was exported for `parameter` (then all of its fields must be present).
    func hasState(for parameter: String) -> Bool {
        byName["opt.\(parameter).step"] != nil || byName["opt.\(parameter).m"] != nil
    }

    mutating func floats(_ parameter: String, _ field: String, shape: [Int]) throws -> [Float] {
        let name = "opt.\(parameter).\(field)"
        guard let tensor = byName[name] else { throw OutlierLabError("optimiser state is missing \(name)") }
        guard tensor.shape == shape, let values = tensor.floats else {
            throw OutlierLabError("optimiser state \(name) should be F32 \(shape), got \(tensor.values.dtype) \(tensor.shape)")
        }
        unread.remove(name)
        return values
    }

    mutating func step(_ parameter: String) throws -> Int {
        let name = "opt.\(parameter).step"
        guard let tensor = byName[name] else { throw OutlierLabError("optimiser state is missing \(name)") }
        guard tensor.shape == [], let values = tensor.int64s, values[0] >= 0 else {
            throw OutlierLabError("optimiser state \(name) should be a non-negative I64 scalar")
        }
        unread.remove(name)
        return Int(values[0])
    }

    /// Throws if some `opt.` tensor was not consumed (a state for another optimiser or layout).
    func finish() throws {
        if let name = unread.sorted().first {
            throw OutlierLabError("optimiser state tensor \(name) does not belong to this optimiser and layout")
        }
    }
}
