import OLCore
import Testing
@testable import OLOptimizers

@Suite("SOAP's arithmetic per step")
struct SOAPArithmeticTests {
    static let specs = [TensorSpec(name: "w", shape: [3, 5], role: .matrix), TensorSpec(name: "b", shape: [5], role: .vector)]

    func arithmetic(_ edit: (inout SOAPConfig) -> Void = { _ in }) throws -> SOAPArithmetic {
        var config = SOAPConfig()
        edit(&config)
        return try SOAP(config: config, layout: ArenaLayout(Self.specs)).arithmetic
    }

    @Test("a 3×5 matrix rotated on both sides costs the hand-counted flops; the vector costs none")
    func handCountedMatrix() throws {
        let work = try arithmetic()
        // Left side n = 3: a rotation is 2·15·3 = 90 flops, right side n = 5: 150; forward and back each.
        #expect(work.rotations == 2 * 90 + 2 * 150)
        // ssyrk: n²·(15/n) = 15·n per side.
        #expect(work.statistics == 15 * 3 + 15 * 5)
        // Every f = 10 steps: M back and forward (2·90 + 2·150) and GG·Q, sgeqrf, sorgqr (2 + 8/3)·n³.
        let momentum: Double = 2 * 90 + 2 * 150
        let factorisations: Double = (2 + 8.0 / 3) * (27 + 125)
        let refresh = (momentum + factorisations) / 10
        #expect(abs(work.refreshPerStep - refresh) <= 1e-12 * refresh)
        #expect(work.total == work.rotations + work.statistics + work.refreshPerStep)
    }

    @Test("an axis above the preconditioning limit, the random basis and the identity basis drop their parts")
    func partsFollowTheRoute() throws {
        let oneSide = try arithmetic { $0.maxPreconditionedDimension = 4 }
        #expect(oneSide.rotations == 2 * 90 && oneSide.statistics == 45)
        let random = try arithmetic { $0.basis = .random(seed: 3) }
        #expect(random.rotations == 2 * 90 + 2 * 150 && random.statistics == 0 && random.refreshPerStep == 0)
        let identity = try arithmetic { $0.basis = .identity; $0.secondMoment = .factored }
        #expect(identity.total == 0)
    }

    @Test("rotating the momentum every step moves its two rotations per side from the refresh into every step")
    func momentumEveryStep() throws {
        let every = try arithmetic { $0.rotateMomentumEveryStep = true }
        #expect(every.rotations == 2 * (2 * 90 + 2 * 150))
        let factorisations: Double = (2 + 8.0 / 3) * (27 + 125)
        let refresh = factorisations / 10
        #expect(abs(every.refreshPerStep - refresh) <= 1e-12 * refresh)
    }
}
