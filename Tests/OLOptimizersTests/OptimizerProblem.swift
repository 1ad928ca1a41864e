import OLCore
import Testing
@testable import OLOptimizers

/// Parameter and gradient arenas for `specs`, parameters N(0, 1) from a seeded test stream.
struct Problem {
    let layout: ArenaLayout
    let parameters: FloatArena
    let gradients: FloatArena
    var stream: RandomStream

    init(_ specs: [TensorSpec], seed: UInt64 = 1) {
        layout = ArenaLayout(specs)
        parameters = FloatArena(layout: layout)
        gradients = FloatArena(layout: layout)
        stream = RandomStream(seed: seed, purpose: "tests")
        for index in specs.indices { stream.fillNormal(parameters.view(index), std: 1) }
    }

    /// Fills every gradient with N(0, std²) draws.
    mutating func drawGradients(std: Double = 1) {
        for index in layout.specs.indices { stream.fillNormal(gradients.view(index), std: std) }
    }

    func values(_ name: String) -> [Double] { parameters.view(name).map(Double.init) }
    func gradient(_ name: String) -> [Double] { gradients.view(name).map(Double.init) }
}

/// The exported state tensor `name` as Doubles.
func stateValues(_ state: [NamedTensor], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Double] {
    let tensor = try #require(state.first { $0.name == name }, "no state tensor \(name)", sourceLocation: sourceLocation)
    let floats = try #require(tensor.floats, "\(name) is not F32", sourceLocation: sourceLocation)
    return floats.map(Double.init)
}

/// numpy-style closeness |a − e| ≤ atol + rtol·|e|, reporting the worst element.
func expectClose(_ actual: [Double], _ expected: [Double], rtol: Double = 0, atol: Double,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var mismatches = 0, worst = 0.0, worstIndex = 0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if !(excess <= 0) { mismatches += 1 }
        if !(excess <= worst) { worst = excess.isNaN ? .infinity : excess; worstIndex = i }
    }
    #expect(mismatches == 0, """
        \(what): mismatched elements \(mismatches) / \(expected.count); worst at \(worstIndex): \
        actual \(actual[worstIndex]) vs expected \(expected[worstIndex]) (atol \(atol), rtol \(rtol))
        """, sourceLocation: sourceLocation)
}

/// Bit patterns, so that −0 ≠ +0 and NaN == NaN count as the bitwise comparison they are.
func bits(_ values: UnsafeMutableBufferPointer<Float>) -> [UInt32] { values.map(\.bitPattern) }

func bits(_ tensors: [NamedTensor]) -> [String: [UInt64]] {
    var result = [String: [UInt64]]()
    for tensor in tensors {
        switch tensor.values {
        case .float32(let v): result[tensor.name] = v.map { UInt64($0.bitPattern) }
        case .float64(let v): result[tensor.name] = v.map(\.bitPattern)
        case .int64(let v): result[tensor.name] = v.map { UInt64(bitPattern: $0) }
        case .uint8(let v): result[tensor.name] = v.map(UInt64.init)
        case .int8(let v): result[tensor.name] = v.map { UInt64(UInt8(bitPattern: $0)) }
        }
    }
    return result
}

// MARK: - Plain Double linear algebra for references (row-major n×n unless stated)
