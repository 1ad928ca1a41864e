import Foundation
import OLCore
import OLTestSupport
import Testing
@testable import OLOptimizers

/// Configs that exercise every optimiser's state within a few steps (SOAP family: refresh every 3).
func testConfig(_ kind: OptimizerKind) -> OptimizerConfig {
    switch OptimizerConfig.defaults(for: kind) {
    case .rotated(var config):
        config.preconditionFrequency = 3
        return .rotated(config)
    case let other: return other
    }
}

let mixedSpecs = [
    TensorSpec(name: "w", shape: [5, 3], role: .matrix),
    TensorSpec(name: "emb", shape: [6, 4], role: .embedding),
    TensorSpec(name: "gain", shape: [3], role: .vector),
    TensorSpec(name: "beta", shape: [], role: .scalar),
]

@Suite("Optimiser state, determinism and training")
struct StateAndTrainingTests {
    @Test("stepping after export → import is bitwise identical to never exporting", arguments: OptimizerKind.allCases)
    func exportImportIsBitwiseExact(kind: OptimizerKind) throws {
        var problem = Problem(mixedSpecs, seed: 21)
        var continuous = try testConfig(kind).makeOptimizer(layout: problem.layout)
        for _ in 1...4 {
            problem.drawGradients()
            try continuous.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        }
        let exported = continuous.exportState()
        var resumed = try testConfig(kind).makeOptimizer(layout: problem.layout)
        try resumed.importState(exported)
        expectBitwiseEqual(bits(resumed.exportState()), bits(exported), "import then export reproduces the state")
        let resumedParameters = problem.parameters.clone()
        for _ in 1...6 {  // crosses SOAP refreshes at t = 6 and 9
            problem.drawGradients()
            try continuous.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
            try resumed.step(parameters: resumedParameters, gradients: problem.gradients, learningRate: 0.01)
        }
        expectBitwiseEqual(bits(resumedParameters.storage), bits(problem.parameters.storage), "parameters, resumed against continuous")
        expectBitwiseEqual(bits(resumed.exportState()), bits(continuous.exportState()), "optimiser state, resumed against continuous")
    }

    @Test("state exports use opt.<param>.<field> names, with int64 step counts", arguments: OptimizerKind.allCases)
    func stateNames(kind: OptimizerKind) throws {
        var problem = Problem(mixedSpecs)
        var optimizer = try testConfig(kind).makeOptimizer(layout: problem.layout)
        #expect(optimizer.exportState().isEmpty, "no state before the first step")
        problem.drawGradients()
        try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        let state = optimizer.exportState()
        for spec in mixedSpecs {
            #expect(state.first { $0.name == "opt.\(spec.name).step" }?.values.dtype == "I64")
            #expect(state.first { $0.name == "opt.\(spec.name).m" }?.shape == spec.shape)
        }
        let expectedSOAPFields = kind == .soap || kind == .rotatedAdafactor ? ["QL", "QR", "GGL", "GGR"] : kind == .adamRandomRotation ? ["QL", "QR"] : []
        // The SOAP family rotates the embedding like the matrix (precondition_embeddings is on by default).
        for name in ["w", "emb"] {
            for field in expectedSOAPFields { #expect(state.contains { $0.name == "opt.\(name).\(field)" }, "opt.\(name).\(field)") }
        }
    }

    @Test("importing state of another layout or a mis-shaped tensor fails with a one-line message")
    func importRejectsForeignState() throws {
        var problem = Problem(mixedSpecs)
        var optimizer = try AdamW(layout: problem.layout)
        problem.drawGradients()
        try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 0.01)
        var state = optimizer.exportState()
        state.append(NamedTensor(name: "opt.unknown.m", shape: [1], floats: [0]))
        #expect(throws: OutlierLabError("optimiser state tensor opt.unknown.m does not belong to this optimiser and layout")) {
            try optimizer.importState(state)
        }
        state.removeLast()
        state[1] = NamedTensor(name: state[1].name, shape: [15], floats: Array(repeating: 0, count: 15))
        #expect(throws: OutlierLabError("optimiser state opt.w.m should be F32 [5, 3], got F32 [15]")) {
            try optimizer.importState(state)
        }
    }

    @Test("two trajectories with the same seed are bitwise equal; another seed differs", arguments: OptimizerKind.allCases)
    func trajectoriesAreDeterministic(kind: OptimizerKind) throws {
        let a = try OptimizerTrajectory.generate(config: testConfig(kind), seed: 7, steps: 8)
        let b = try OptimizerTrajectory.generate(config: testConfig(kind), seed: 7, steps: 8)
        let c = try OptimizerTrajectory.generate(config: testConfig(kind), seed: 8, steps: 8)
        #expect(a.map(\.name) == b.map(\.name))
        expectBitwiseEqual(bits(a), bits(b), "exported state")
        #expect(bits(a) != bits(c))
    }

    @Test("a trajectory is self-contained: parameters, every gradient, hyper-parameters, every output and the state")
    func trajectoryContents() throws {
        let tensors = try OptimizerTrajectory.generate(config: testConfig(.soap), seed: 1, steps: 4)
        let names = Set(tensors.map(\.name))
        for spec in OptimizerTrajectory.defaultSpecs {
            #expect(names.contains("input.param.\(spec.name)"))
            for step in ["0001", "0004"] {
                #expect(names.contains("input.grad.\(step).\(spec.name)"))
                #expect(names.contains("output.param.\(step).\(spec.name)"))
            }
            #expect(names.contains("output.state.opt.\(spec.name).step"))
        }
        #expect(tensors.first { $0.name == "input.hparam.precondition_frequency" }?.doubles == [3])
        #expect(tensors.first { $0.name == "input.hparam.step_lr" }?.doubles == [3e-3])
        #expect(tensors.first { $0.name == "output.param.0001.w_wide" }?.floats == tensors.first { $0.name == "input.param.w_wide" }?.floats,
                "SOAP's first call leaves the parameters unchanged")
        #expect(throws: OutlierLabError("a trajectory needs at least 1 step, got 0")) {
            try OptimizerTrajectory.generate(config: testConfig(.sgd), seed: 1, steps: 0)
        }
    }

    @Test("every optimiser lowers the loss of a small multi-output least-squares problem", arguments: OptimizerKind.allCases)
    func toyProblemLossFalls(kind: OptimizerKind) throws {
        // pred = s·(W x + b) for inputs x (8) and targets y (6) from a random teacher; loss = mean ½‖pred − y‖².
        let (inputs, outputs, samples) = (8, 6, 64)
        let specs = [TensorSpec(name: "W", shape: [outputs, inputs], role: .matrix),
                     TensorSpec(name: "b", shape: [outputs], role: .vector),
                     TensorSpec(name: "s", shape: [], role: .scalar)]
        let problem = Problem(specs, seed: 30)
        var teacher = RandomStream(seed: 31, purpose: "tests")
        let x = (0..<(samples * inputs)).map { _ in teacher.nextNormal() }
        let wTrue = (0..<(outputs * inputs)).map { _ in teacher.nextNormal() / 2 }
        let y = (0..<samples).flatMap { n in (0..<outputs).map { o in (0..<inputs).reduce(0.0) { $0 + wTrue[o * inputs + $1] * x[n * inputs + $1] } } }
        problem.parameters.view("s")[0] = 1
        func lossAndGradient() -> Double {
            let w = problem.values("W"), b = problem.values("b"), s = problem.values("s")[0]
            var loss = 0.0
            var gW = [Double](repeating: 0, count: w.count), gB = [Double](repeating: 0, count: outputs), gS = 0.0
            for n in 0..<samples {
                for o in 0..<outputs {
                    let z = (0..<inputs).reduce(b[o]) { $0 + w[o * inputs + $1] * x[n * inputs + $1] }
                    let residual = s * z - y[n * outputs + o]
                    loss += 0.5 * residual * residual / Double(samples)
                    let dz = residual * s / Double(samples)
                    gS += residual * z / Double(samples)
                    gB[o] += dz
                    for i in 0..<inputs { gW[o * inputs + i] += dz * x[n * inputs + i] }
                }
            }
            for (k, value) in gW.enumerated() { problem.gradients.view("W")[k] = Float(value) }
            for (k, value) in gB.enumerated() { problem.gradients.view("b")[k] = Float(value) }
            problem.gradients.view("s")[0] = Float(gS)
            return loss
        }
        let rate: Float = 0.02
        var optimizer = try testConfig(kind).makeOptimizer(layout: problem.layout)
        let initial = lossAndGradient()
        var final = initial
        for _ in 1...150 {
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: rate)
            final = lossAndGradient()
        }
        #expect(final.isFinite)
        // A fitted teacher is reachable; a quarter of the initial loss is a loose bar every optimiser clears.
        #expect(final < 0.25 * initial, "\(kind): loss \(initial) → \(final)")
    }

    @Test("invalid hyper-parameters are rejected with a one-line message naming them", arguments: [
        ({ var c = AdamWConfig(); c.learningRate = -1; return OptimizerConfig.adamw(c) }(), "learning rate must be a finite number ≥ 0, got -1.0"),
        ({ var c = AdamWConfig(); c.beta1 = 1; return OptimizerConfig.adamw(c) }(), "beta1 must be in [0, 1), got 1.0"),
        ({ var c = AdaFactorConfig(); c.beta2 = -0.1; return OptimizerConfig.adafactor(c) }(), "beta2 must be in [0, 1), got -0.1"),
        ({ var c = SOAPConfig(); c.preconditionFrequency = 0; return OptimizerConfig.rotated(c) }(), "precondition frequency f must be ≥ 1, got 0"),
        ({ var c = SOAPConfig(); c.shampooBeta = 1.5; return OptimizerConfig.rotated(c) }(), "shampoo beta must be in [0, 1), got 1.5"),
        ({ var c = SGDConfig(); c.momentum = 0; c.nesterov = true; return OptimizerConfig.sgd(c) }(), "Nesterov SGD needs momentum > 0"),
        ({ var c = SGDConfig(); c.weightDecay = -0.1; return OptimizerConfig.sgd(c) }(), "weight decay must be a finite number ≥ 0, got -0.1"),
    ])
    func invalidHyperParameters(config: OptimizerConfig, message: String) {
        #expect(throws: OutlierLabError(message)) { try config.makeOptimizer(layout: ArenaLayout(mixedSpecs)) }
    }

    @Test("a negative step learning rate, a foreign gradient layout and a 3-D matrix are rejected")
    func invalidStepInputs() throws {
        var problem = Problem(mixedSpecs)
        var optimizer = try AdamW(layout: problem.layout)
        problem.drawGradients()
        #expect(throws: OutlierLabError("learning rate must be a finite number ≥ 0, got -0.5")) {
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: -0.5)
        }
        let other = FloatArena(layout: ArenaLayout([TensorSpec(name: "w", shape: [2], role: .vector)]))
        #expect(throws: OutlierLabError("gradient arena layout differs from the parameter layout")) {
            try optimizer.step(parameters: problem.parameters, gradients: other, learningRate: 0.1)
        }
        #expect(throws: OutlierLabError("parameter w has role matrix but shape [2, 2, 2]; matrices must be 2-D")) {
            try SOAP(layout: ArenaLayout([TensorSpec(name: "w", shape: [2, 2, 2], role: .matrix)]))
        }
    }

    @Test("optimiser kinds have the config spellings and build the matching optimiser")
    func kindsRoundTrip() throws {
        #expect(OptimizerKind.allCases.map(\.rawValue) == ["sgd", "adamw", "adafactor", "soap", "rotated-adafactor", "adam-random-rotation"])
        #expect(EpsConvention(rawValue: "hf") == .hf && EpsConvention(rawValue: "torch") == .torch)
        for kind in OptimizerKind.allCases {
            #expect(try kind.makeOptimizer(layout: ArenaLayout(mixedSpecs)).kind == kind)
        }
    }
}
