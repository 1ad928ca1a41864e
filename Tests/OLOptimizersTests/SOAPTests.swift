import Foundation
import OLCore
import OLTestSupport
import Testing
@testable import OLOptimizers

@Suite("SOAP and its rotated relatives")
struct SOAPTests {
    static func config(frequency: Int = 10, weightDecay: Double = 0.01, maxDimension: Int = 10000) -> SOAPConfig {
        var config = SOAPConfig()
        config.preconditionFrequency = frequency
        config.weightDecay = weightDecay
        config.maxPreconditionedDimension = maxDimension
        return config
    }

    @Test("SOAP matches the plain Double reference for 7 calls, through refreshes, one-sided and unrotated tensors, embeddings rotated or not",
          arguments: [true, false])
    func matchesReference(preconditionEmbeddings: Bool) throws {
        let specs = [
            TensorSpec(name: "square", shape: [4, 4], role: .matrix),
            TensorSpec(name: "wide", shape: [3, 5], role: .matrix),  // 5 > max dimension 4: left side only
            TensorSpec(name: "table", shape: [3, 3], role: .embedding),  // both sides, unless switched off
            TensorSpec(name: "gain", shape: [3], role: .vector),
            TensorSpec(name: "beta", shape: [], role: .scalar),
        ]
        var config = Self.config(frequency: 2, weightDecay: 0.5, maxDimension: 4)
        config.preconditionEmbeddings = preconditionEmbeddings
        let lr = 0.05
        var problem = Problem(specs, seed: 3)
        var optimizer = try SOAP(config: config, layout: problem.layout)
        var references = specs.map { spec in
            let (rows, cols) = spec.shape.count == 2 ? (spec.shape[0], spec.shape[1]) : (1, spec.count)
            let rotated = spec.role == .matrix || (spec.role == .embedding && preconditionEmbeddings)
            let decayed = spec.role == .matrix || spec.role == .embedding
            return ReferenceSOAP(w: problem.values(spec.name), rows: rows, cols: cols, left: rotated && rows <= 4,
                                 right: rotated && cols <= 4, lr: lr, beta1: config.beta1, beta2: config.beta2,
                                 eps: config.epsilon, weightDecay: decayed ? config.weightDecay : 0, frequency: 2)
        }
        for call in 1...7 {
            problem.drawGradients()
            for (index, spec) in specs.enumerated() { references[index].call(gradient: problem.gradient(spec.name)) }
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: Float(lr))
            for (index, spec) in specs.enumerated() {
                // Float state vs Double reference: rounding of ~1e-7 amplified by eigenvector sensitivity
                // (gap ~0.1) stays below 1e-6 here; a wrong order of operations moves W by > 1e-3.
                expectClose(problem.values(spec.name), references[index].w, atol: 2e-6, "\(spec.name) after call \(call)")
            }
        }
        let state = optimizer.exportState()
        #expect(state.contains { $0.name == "opt.table.QL" } == preconditionEmbeddings)
        #expect(state.contains { $0.name == "opt.table.QR" } == preconditionEmbeddings)
    }

    @Test("the first call changes no parameter (no update, no decay) and leaves t at 0")
    func firstCallIsSkipped() throws {
        var problem = Problem([TensorSpec(name: "w", shape: [4, 3], role: .matrix), TensorSpec(name: "g", shape: [3], role: .vector)])
        var optimizer = try SOAP(config: Self.config(weightDecay: 0.5), layout: problem.layout)
        let before = bits(problem.parameters.storage)
        problem.drawGradients()
        try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.1)
        expectBitwiseEqual(bits(problem.parameters.storage), before, "parameters after the first call")
        let state = optimizer.exportState()
        #expect(state.first { $0.name == "opt.w.step" }?.int64s == [0])
        #expect(state.first { $0.name == "opt.g.step" }?.int64s == [0])
    }

    @Test("the initial bases are orthogonal eigenvectors of GG with columns by descending eigenvalue")
    func initialBasisIsOrthogonalAndDescending() throws {
        var problem = Problem([TensorSpec(name: "w", shape: [5, 3], role: .matrix)])
        var optimizer = try SOAP(layout: problem.layout)
        problem.drawGradients()
        try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.1)
        let state = optimizer.exportState()
        for (side, n) in [("L", 5), ("R", 3)] {
            let q = try stateValues(state, "opt.w.Q\(side)"), gg = try stateValues(state, "opt.w.GG\(side)")
            let gram = matmul(transpose(q, n, n), q, n, n, n)
            // A Double-orthogonal Q rounded to Float: entries of QᵀQ − I are a few 1e-8.
            expectClose(gram, identity(n), atol: 1e-6, "Q\(side)ᵀ Q\(side) − I")
            let ggq = matmul(gg, q, n, n, n)
            let eigenvalues = (0..<n).map { j in (0..<n).reduce(0.0) { $0 + q[$1 * n + j] * ggq[$1 * n + j] } }
            let scale = eigenvalues.map(abs).max()!
            for j in 1..<n {
                // Descending up to Float rounding of GG (1e-6 of its largest eigenvalue).
                #expect(eigenvalues[j] <= eigenvalues[j - 1] + 1e-6 * scale, "Q\(side) column \(j) out of order: \(eigenvalues)")
            }
            // Each column is an eigenvector: GG q_j = λ_j q_j, to Float rounding of GG and Q.
            let expected = (0..<(n * n)).map { q[$0] * eigenvalues[$0 % n] }
            expectClose(ggq, expected, atol: 1e-5 * scale, "GG Q\(side) vs Q\(side) Λ")
        }
    }

    @Test("with f = 1, V is permuted exactly as the basis columns are sorted on every refresh")
    func permutationOfVFollowsBasis() throws {
        var problem = Problem([TensorSpec(name: "w", shape: [4, 4], role: .matrix)], seed: 9)
        var config = Self.config(frequency: 1)
        config.rotateMomentumEveryStep = false
        var optimizer = try SOAP(config: config, layout: problem.layout)
        let (b2, bs) = (config.beta2, config.beta2)
        var sawPermutation = false
        for call in 1...6 {
            if call == 4 {
                // Relabel the basis consistently (reverse both sides' columns, with M's and V's axes) so
                // that the next refresh has to sort them back: a permutation that is not the identity.
                var state = optimizer.exportState()
                for (index, tensor) in state.enumerated() {
                    guard let f = tensor.floats else { continue }
                    switch tensor.name {
                    case "opt.w.QL", "opt.w.QR": state[index].values = .float32((0..<16).map { f[($0 / 4) * 4 + 3 - $0 % 4] })
                    case "opt.w.m", "opt.w.v": state[index].values = .float32((0..<16).map { f[(3 - $0 / 4) * 4 + 3 - $0 % 4] })
                    default: break
                    }
                }
                try optimizer.importState(state)
            }
            let before = optimizer.exportState()
            problem.drawGradients()
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            guard call >= 2 else { continue }
            let after = optimizer.exportState()
            let g = problem.gradient("w")
            let qL = try stateValues(before, "opt.w.QL"), qR = try stateValues(before, "opt.w.QR")
            let projected = matmul(matmul(transpose(qL, 4, 4), g, 4, 4, 4), qR, 4, 4, 4)
            let vPrevious = try stateValues(before, "opt.w.v")
            let vMoment = (0..<16).map { b2 * vPrevious[$0] + (1 - b2) * projected[$0] * projected[$0] }
            let ggL = zip(try stateValues(before, "opt.w.GGL"), matmul(g, transpose(g, 4, 4), 4, 4, 4)).map { bs * $0 + (1 - bs) * $1 }
            let ggR = zip(try stateValues(before, "opt.w.GGR"), matmul(transpose(g, 4, 4), g, 4, 4, 4)).map { bs * $0 + (1 - bs) * $1 }
            let orderL = sortedByEstimate(ggL, qL, 4), orderR = sortedByEstimate(ggR, qR, 4)
            sawPermutation = sawPermutation || orderL != Array(0..<4) || orderR != Array(0..<4)
            let expectedV = (0..<16).map { vMoment[orderL[$0 / 4] * 4 + orderR[$0 % 4]] }
            // V is only moved, never rotated: equal up to the Float rounding of one moment update.
            expectClose(try stateValues(after, "opt.w.v"), expectedV, rtol: 1e-5, atol: 1e-9, "V after call \(call)")
            for (side, gg, q, order) in [("L", ggL, qL, orderL), ("R", ggR, qR, orderR)] {
                let expectedQ = gramSchmidtQ(matmul(gg, permuteColumns(q, 4, order), 4, 4, 4), 4)
                // Same column order as V's axis, up to sign; Float GG/Q give ~1e-6 differences.
                expectClose(signCanonical(try stateValues(after, "opt.w.Q\(side)"), 4), signCanonical(expectedQ, 4),
                            atol: 1e-4, "Q\(side) after call \(call)")
            }
        }
        #expect(sawPermutation, "the relabelled basis must have been sorted back by some refresh")
    }

    @Test("momentum stored in the rotated basis equals the original-space momentum rotated, over 30 steps",
          arguments: [false, true])
    func rotatedMomentumMatchesOriginalSpace(rotateEveryStep: Bool) throws {
        var problem = Problem([TensorSpec(name: "w", shape: [5, 3], role: .matrix)], seed: 4)
        var config = Self.config()
        config.rotateMomentumEveryStep = rotateEveryStep
        var optimizer = try SOAP(config: config, layout: problem.layout)
        var momentum = [Double](repeating: 0, count: 15)  // the paper's form: M in the original space
        for call in 1...31 {
            problem.drawGradients()
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            guard call >= 2 else { continue }  // the first call only seeds the preconditioner
            let g = problem.gradient("w")
            momentum = zip(momentum, g).map { config.beta1 * $0 + (1 - config.beta1) * $1 }
            let state = optimizer.exportState()
            let qL = try stateValues(state, "opt.w.QL"), qR = try stateValues(state, "opt.w.QR")
            let rotated = matmul(matmul(transpose(qL, 5, 5), momentum, 5, 5, 3), qR, 5, 3, 3)
            // |M| ≈ 1; Float sgemm rotations and three basis changes: ~1e-7 each, 1e-6 budget.
            expectClose(try stateValues(state, "opt.w.m"), rotated, atol: 1e-6, "rotated M after call \(call)")
        }
    }

    @Test("rotating M only when the basis changes agrees with the official every-step round trip to 1e-6")
    func skippedRoundTripAgrees() throws {
        var runs = [[Double]]()
        for everyStep in [false, true] {
            var problem = Problem([TensorSpec(name: "w", shape: [6, 4], role: .matrix)], seed: 8)
            var config = Self.config(frequency: 3)
            config.rotateMomentumEveryStep = everyStep
            var optimizer = try SOAP(config: config, layout: problem.layout)
            for _ in 1...20 {
                problem.drawGradients()
                try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            }
            runs.append(problem.values("w"))
        }
        // The skipped Q Qᵀ round trip is the identity up to Float rounding (~1e-7 of |M|) per step.
        expectClose(runs[0], runs[1], atol: 1e-6, "W with and without the every-step round trip")
    }

    @Test("flipping the signs of basis columns (with M's matching axes) leaves the updates unchanged")
    func signFlipsDoNotChangeUpdates() throws {
        let specs = [TensorSpec(name: "w", shape: [4, 3], role: .matrix)]
        var problem = Problem(specs, seed: 6)
        var original = try SOAP(config: Self.config(frequency: 3), layout: problem.layout)
        for _ in 1...4 {
            problem.drawGradients()
            try original.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        }
        var state = original.exportState()
        for (index, tensor) in state.enumerated() {
            let f = tensor.floats ?? []
            switch tensor.name {
            case "opt.w.QL": state[index].values = .float32(f.indices.map { $0 % 4 == 0 || $0 % 4 == 2 ? -f[$0] : f[$0] })
            case "opt.w.QR": state[index].values = .float32(f.indices.map { $0 % 3 == 1 ? -f[$0] : f[$0] })
            case "opt.w.m":  // row i of M flips with column i of Q_L, column j with column j of Q_R
                state[index].values = .float32(f.indices.map { k in
                    let sign: Float = ((k / 3 == 0 || k / 3 == 2) ? -1 : 1) * (k % 3 == 1 ? -1 : 1)
                    return sign * f[k]
                })
            default: break
            }
        }
        var flipped = try SOAP(config: Self.config(frequency: 3), layout: problem.layout)
        try flipped.importState(state)
        let flippedParameters = problem.parameters.clone()
        for _ in 1...6 {  // crosses the refreshes at t = 6 and 9
            problem.drawGradients()
            try original.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            try flipped.step(parameters: flippedParameters, gradients: problem.gradients, learningRate: 0.01)
        }
        // Negation is exact in IEEE arithmetic, so equality is expected; 1e-7 allows BLAS reassociation.
        expectClose(flippedParameters.view("w").map(Double.init), problem.values("w"), atol: 1e-7, "W with flipped basis signs")
    }

    @Test("vectors and scalars follow plain Adam (HF ε convention) after the skipped first call")
    func vectorsFollowAdamWithSkip() throws {
        let specs = [TensorSpec(name: "gain", shape: [5], role: .vector), TensorSpec(name: "beta", shape: [], role: .scalar)]
        var problem = Problem(specs, seed: 2)
        let adamParameters = problem.parameters.clone()
        var soap = try SOAP(layout: problem.layout)
        var adamConfig = AdamWConfig()
        adamConfig.epsConvention = .hf
        adamConfig.beta1 = SOAPConfig().beta1
        adamConfig.beta2 = SOAPConfig().beta2
        var adam = try AdamW(config: adamConfig, layout: problem.layout)
        try stepAfterSeeding(&soap, &adam, &problem, otherParameters: adamParameters) { step, problem in
            // The same Float operations in the same order: equal, 1e-7 allows for nothing but reassociation.
            expectClose(problem.values("gain") + problem.values("beta"), adamParameters.view("gain").map(Double.init) + adamParameters.view("beta").map(Double.init),
                        atol: 1e-7, "vector and scalar after Adam step \(step)")
        }
    }

    /// Steps `soap` alone once (its first call only seeds the preconditioner), then both optimisers on the
    /// same five gradients, calling `compare` with the step and the problem after each.
    private func stepAfterSeeding(_ soap: inout SOAP, _ other: inout some Optimizer, _ problem: inout Problem, otherParameters: FloatArena,
                                  compare: (_ step: Int, _ problem: Problem) -> Void) throws {
        problem.drawGradients()
        try soap.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        for step in 1...5 {
            problem.drawGradients()
            try soap.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            try other.step(parameters: otherParameters, gradients: problem.gradients, learningRate: 0.01)
            compare(step, problem)
        }
    }

    @Test("a non-finite gradient is rejected, naming the parameter, before LAPACK runs or state changes",
          arguments: [Float.nan, .infinity])
    func nonFiniteGradientThrows(bad: Float) throws {
        var problem = Problem([TensorSpec(name: "blocks.0.qkv", shape: [4, 3], role: .matrix)])
        var optimizer = try SOAP(layout: problem.layout)
        let before = bits(problem.parameters.storage)
        problem.drawGradients()
        problem.gradients.view(0)[5] = bad
        #expect(throws: OutlierLabError("non-finite gradient in parameter blocks.0.qkv")) {
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        }
        #expect(optimizer.lapackCalls == 0)
        #expect(optimizer.exportState().isEmpty)
        expectBitwiseEqual(bits(problem.parameters.storage), before, "parameters after the first call")
    }

    @Test("rotated AdaFactor with the identity basis is AdaFactor one call later")
    func rotatedAdafactorReducesToAdafactor() throws {
        let specs = [TensorSpec(name: "w", shape: [4, 3], role: .matrix), TensorSpec(name: "gain", shape: [3], role: .vector)]
        var problem = Problem(specs, seed: 12)
        let plainParameters = problem.parameters.clone()
        var config = SOAPConfig.rotatedAdafactor()
        config.maxPreconditionedDimension = 0  // no axis is rotated: Q = I on both sides
        var rotated = try SOAP(config: config, layout: problem.layout)
        var plainConfig = AdaFactorConfig()
        (plainConfig.beta1, plainConfig.beta2, plainConfig.weightDecay) = (config.beta1, config.beta2, config.weightDecay)
        var plain = try AdaFactor(config: plainConfig, layout: problem.layout)
        try stepAfterSeeding(&rotated, &plain, &problem, otherParameters: plainParameters) { step, problem in
            // Same Float operations: equal; 1e-7 only allows reassociation.
            expectClose(problem.values("w"), plainParameters.view("w").map(Double.init), atol: 1e-7, "w after step \(step)")
        }
        #expect(rotated.exportState().contains { $0.name == "opt.w.r" })
    }

    @Test("rotated AdaFactor permutes its row factor r exactly as the left basis columns are sorted")
    func rotatedAdafactorPermutesFactors() throws {
        var problem = Problem([TensorSpec(name: "w", shape: [4, 4], role: .matrix)], seed: 13)
        var optimizer = try SOAP(config: { var c = SOAPConfig.rotatedAdafactor(); c.preconditionFrequency = 1; return c }(),
                                 layout: problem.layout)
        for call in 1...4 {
            let before = optimizer.exportState()
            problem.drawGradients()
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            guard call >= 2 else { continue }
            let after = optimizer.exportState()
            let g = problem.gradient("w"), b2 = SOAPConfig().beta2
            let qL = try stateValues(before, "opt.w.QL")
            let qR = try stateValues(before, "opt.w.QR")
            let projected = matmul(matmul(transpose(qL, 4, 4), g, 4, 4, 4), qR, 4, 4, 4)
            let ggL = zip(try stateValues(before, "opt.w.GGL"), matmul(g, transpose(g, 4, 4), 4, 4, 4)).map { b2 * $0 + (1 - b2) * $1 }
            let order = sortedByEstimate(ggL, qL, 4)
            let r = try stateValues(before, "opt.w.r")
            let updated = (0..<4).map { i in b2 * r[i] + (1 - b2) * (0..<4).reduce(0.0) { $0 + (projected[i * 4 + $1] * projected[i * 4 + $1] + 1e-30) / 4 } }
            // r is permuted like Q_L's columns: Float moving average of O(1) values, 1e-5 relative.
            expectClose(try stateValues(after, "opt.w.r"), order.map { updated[$0] }, rtol: 1e-5, atol: 1e-9, "r after call \(call)")
        }
    }

    @Test("the random-rotation ablation uses fixed orthogonal bases from its seed and updates from the first call")
    func randomRotationBases() throws {
        var bases = [[Double]]()
        for seed in [1, 1, 2] as [UInt64] {
            var problem = Problem([TensorSpec(name: "w", shape: [4, 3], role: .matrix)])
            var optimizer = try SOAP(config: .randomRotation(seed: seed), layout: problem.layout)
            let before = problem.values("w")
            problem.drawGradients()
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            #expect(problem.values("w") != before, "no first-call skip without Shampoo statistics")
            let first = try stateValues(optimizer.exportState(), "opt.w.QL")
            for _ in 1...12 {
                problem.drawGradients()
                try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            }
            let last = try stateValues(optimizer.exportState(), "opt.w.QL")
            expectBitwiseEqual(last, first, "the basis never changes")
            // A Double-orthogonal Q rounded to Float.
            expectClose(matmul(transpose(last, 4, 4), last, 4, 4, 4), identity(4), atol: 1e-6, "QLᵀ QL − I")
            bases.append(last)
        }
        expectBitwiseEqual(bases[1], bases[0], "the basis of two runs with one seed")
        #expect(bases[0] != bases[2])
    }

    /// The QR of a square matrix is unique once R's diagonal is positive, and for i.i.d. normal entries
    /// that Q is Haar-distributed. So: redraw the Gaussian matrix A from the basis's stream and check that
    /// R = QᵀA (in Double) is upper triangular with a positive diagonal.
    @Test("the random-rotation bases are the Haar QR factor: Qᵀ·(the seeded Gaussian) is upper triangular with a positive diagonal")
    func randomRotationIsSignCorrected() throws {
        let (rows, cols, seed): (Int, Int, UInt64) = (6, 5, 7)
        var problem = Problem([TensorSpec(name: "w", shape: [rows, cols], role: .matrix)])
        var optimizer = try SOAP(config: .randomRotation(seed: seed), layout: problem.layout)
        problem.drawGradients()
        try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        let state = optimizer.exportState()
        for (field, side, n) in [("QL", "L", rows), ("QR", "R", cols)] {
            var stream = RandomStream(seed: seed, purpose: "opt.random-rotation.w.\(side)")
            var a = [Double](repeating: 0, count: n * n)  // row-major; the stream fills it column by column
            for j in 0..<n { for i in 0..<n { a[i * n + j] = stream.nextNormal() } }
            let q = try stateValues(state, "opt.w.\(field)")
            let r = matmul(transpose(q, n, n), a, n, n, n)
            // Q is a Double QR rounded to Float: R's entries carry errors of ~1e-7·‖A‖ (‖A‖ ≈ 2√n here),
            // so 1e-5 below the diagonal allows rounding only; a missing sign flip negates a whole diagonal
            // entry, whose size (a χ variable, 0.49 or more for this seed) dwarfs that rounding.
            for i in 0..<n {
                #expect(r[i * n + i] > 0, "\(field): R[\(i), \(i)] = \(r[i * n + i]) must be positive")
                for j in 0..<i { #expect(abs(r[i * n + j]) < 1e-5, "\(field): R[\(i), \(j)] = \(r[i * n + j]) below the diagonal") }
            }
        }
    }
}
