import OLCore
import Testing

/// An allowed error |actual − expected| ≤ atol + rtol·|expected| (numpy.allclose semantics, the
/// expected value is the reference).
struct Tolerance: Sendable {
    var rtol: Double
    var atol: Double

    /// Float32 kernel vs Double reference, one forward pass. Inputs are O(1) and reductions have ≤ ~300
    /// terms, so float32 rounding (ε = 6e-8, error growing like √K·ε·Σ|terms|) stays near 1e-6 relative;
    /// measured worst case 6e-7 (attention with QK-norm, C = 33), so 2e-5 leaves a 30× margin; atol
    /// covers outputs that cancel to ~0.
    static let forward = Tolerance(rtol: 2e-5, atol: 2e-6)
    /// Float32 backward vs central differences in Float64 (h = 1e-6: truncation ~1e-12, rounding ~1e-10,
    /// so the numerical gradient is exact for our purpose). The float backward chains two or three
    /// reductions; every case passes at rtol 1e-5 / atol 1e-6, so 1e-4 / 1e-5 is a 10× margin and still
    /// far below the ≥ 1e-2 error that removing any backward term causes (each term was removed once
    /// and some case failed).
    static let gradient = Tolerance(rtol: 1e-4, atol: 1e-5)
}

/// numpy-style comparison: records one issue naming the mismatch count, the greatest absolute and
/// relative differences with their indices, and the budget.
func expectClose(_ actual: [Double], _ expected: [Double], _ tolerance: Tolerance, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var mismatches = 0
    var worstAbs = (difference: 0.0, index: 0), worstRel = (difference: 0.0, index: 0)
    for i in actual.indices {
        let difference = abs(actual[i] - expected[i])
        let relative = difference / max(abs(expected[i]), .leastNonzeroMagnitude)
        if !(difference <= tolerance.atol + tolerance.rtol * abs(expected[i])) { mismatches += 1 }
        if !(difference <= worstAbs.difference) { worstAbs = (difference, i) }
        if relative > worstRel.difference { worstRel = (relative, i) }
    }
    guard mismatches > 0 else { return }
    let percent = Double(mismatches) / Double(actual.count) * 100
    Issue.record("""
        \(what): not close (rtol \(tolerance.rtol), atol \(tolerance.atol))
        Mismatched elements: \(mismatches) / \(actual.count) (\(percent.formatted2)%)
        Greatest absolute difference: \(worstAbs.difference) at index \(worstAbs.index) \
        (actual \(actual[worstAbs.index]), expected \(expected[worstAbs.index]))
        Greatest relative difference: \(worstRel.difference) at index \(worstRel.index)
        """, sourceLocation: sourceLocation)
}

func expectClose(_ actual: [Float], _ expected: [Double], _ tolerance: Tolerance, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(actual.map(Double.init), expected, tolerance, what, sourceLocation: sourceLocation)
}

extension Double {
    var formatted2: String { String(Double(Int(self * 100)) / 100) }
}

/// Seeded N(0, std²) floats from the test stream.
func randomFloats(_ count: Int, seed: UInt64, std: Double = 1, mean: Double = 0) -> [Float] {
    var stream = RandomStream(seed: seed, purpose: "kernel-tests")
    return (0..<count).map { _ in Float(mean + std * stream.nextNormal()) }
}

/// Seeded tokens in 0..<V.
func randomTokens(_ count: Int, V: Int, seed: UInt64) -> [Int32] {
    var stream = RandomStream(seed: seed, purpose: "kernel-tokens")
    return (0..<count).map { _ in Int32(stream.nextInt(below: V)) }
}

/// One kernel under test: its differentiable inputs, the float32 forward and backward, and the Double
/// reference of the same function.
struct KernelCase {
    var name: String
    var inputNames: [String]
    var inputs: [[Float]]
    /// The primary output for these inputs.
    var forward: ([[Float]]) -> [Float]
    /// Gradients of every input, accumulated onto `initial` (one array per input), for upstream `dout`.
    var backward: (_ inputs: [[Float]], _ dout: [Float], _ initial: [[Float]]) -> [[Float]]
    var reference: ([[Double]]) -> [Double]
    var forwardTolerance = Tolerance.forward
    var gradientTolerance = Tolerance.gradient
}

/// Central differences of f at x, in Float64.
func numericalGradient(at x: [[Double]], step h: Double = 1e-6, of f: ([[Double]]) -> Double) -> [[Double]] {
    var point = x
    return x.indices.map { a in
        x[a].indices.map { e in
            let saved = point[a][e]
            point[a][e] = saved + h
            let plus = f(point)
            point[a][e] = saved - h
            let minus = f(point)
            point[a][e] = saved
            return (plus - minus) / (2 * h)
        }
    }
}

/// Checks forward against the reference, then backward against central differences of
/// sum(reference(x) · dout), with a random upstream gradient and gradients that start non-zero so
/// that `=` instead of `+=` fails.
func check(_ kernel: KernelCase, seed: UInt64 = 7, sourceLocation: SourceLocation = #_sourceLocation) {
    let doubles = kernel.inputs.map { $0.map(Double.init) }
    let expected = kernel.reference(doubles)
    let actual = kernel.forward(kernel.inputs)
    expectClose(actual, expected, kernel.forwardTolerance, "\(kernel.name) forward", sourceLocation: sourceLocation)

    let dout = randomFloats(expected.count, seed: seed &+ 101)
    let initial = kernel.inputs.enumerated().map { randomFloats($1.count, seed: seed &+ 202 &+ UInt64($0)) }
    let grads = kernel.backward(kernel.inputs, dout, initial)
    let numerical = numericalGradient(at: doubles) { point in
        zip(kernel.reference(point), dout).reduce(0) { $0 + $1.0 * Double($1.1) }
    }
    for a in kernel.inputs.indices {
        let accumulated = zip(grads[a], initial[a]).map { Double($0) - Double($1) }
        expectClose(accumulated, numerical[a], kernel.gradientTolerance,
                    "\(kernel.name) d\(kernel.inputNames[a])", sourceLocation: sourceLocation)
    }
}
