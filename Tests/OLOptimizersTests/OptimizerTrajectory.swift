import OLCore
@testable import OLOptimizers

/// Self-contained multi-step optimiser trajectories for golden files: everything an independent
/// implementation needs to re-run the steps (initial parameters, every gradient, the hyper-parameters)
/// and everything it should reproduce (parameters after every step, the final state).
///
/// Tensor names (steps numbered from 1, zero-padded to 4 digits):
///   input.param.<p>                initial parameters                     F32, shape of p
///   input.grad.<step>.<p>          gradient given at that step            F32, shape of p
///   input.hparam.<name>            hyper-parameters, incl. `step_lr`      F64 scalars
///   input.seed                     the generator seed                     I64 scalar
///   output.param.<step>.<p>        parameters after that step             F32
///   output.state.opt.<p>.<field>   optimiser state after the last step    as `exportState`
/// Parameters are N(0, 1) from the stream `trajectory.init`, gradients N(0, 1) from `trajectory.grad`
/// (both under `seed`, drawn tensor by tensor in layout order, step by step).
public enum OptimizerTrajectory {
    /// Non-square matrices (both orientations), an embedding table, a vector and a scalar.
    public static let defaultSpecs: [TensorSpec] = [
        TensorSpec(name: "w_wide", shape: [3, 5], role: .matrix),
        TensorSpec(name: "w_tall", shape: [6, 4], role: .matrix),
        TensorSpec(name: "emb", shape: [7, 3], role: .embedding),
        TensorSpec(name: "gain", shape: [4], role: .vector),
        TensorSpec(name: "beta", shape: [], role: .scalar),
    ]

    /// Runs `steps` steps of `config`'s optimiser at the constant rate `learningRate` (the config's
    /// default when nil) and returns inputs and outputs as named tensors.
    public static func generate(
        config: OptimizerConfig, seed: UInt64, specs: [TensorSpec] = defaultSpecs, steps: Int,
        learningRate: Double? = nil
    ) throws -> [NamedTensor] {
        guard steps >= 1 else { throw OutlierLabError("a trajectory needs at least 1 step, got \(steps)") }
        let layout = ArenaLayout(specs)
        var optimizer = try config.makeOptimizer(layout: layout)
        let rate = learningRate ?? config.learningRate
        try Check.learningRate(rate)
        let parameters = FloatArena(layout: layout), gradients = FloatArena(layout: layout)
        var initStream = RandomStream(seed: seed, purpose: "trajectory.init")
        var gradientStream = RandomStream(seed: seed, purpose: "trajectory.grad")

        var tensors = [NamedTensor]()
        for (index, spec) in specs.enumerated() {
            initStream.fillNormal(parameters.view(index), std: 1)
            tensors.append(NamedTensor(name: "input.param.\(spec.name)", shape: spec.shape, floats: Array(parameters.view(index))))
        }
        for (name, value) in config.hyperParameters + [("step_lr", rate)] {
            tensors.append(NamedTensor(name: "input.hparam.\(name)", shape: [], values: .float64([value])))
        }
        tensors.append(NamedTensor(name: "input.seed", shape: [], values: .int64([Int64(bitPattern: seed)])))

        var outputs = [NamedTensor]()
        for step in 1...steps {
            let label = String(step).leftPadded(to: 4)
            for (index, spec) in specs.enumerated() {
                gradientStream.fillNormal(gradients.view(index), std: 1)
                tensors.append(NamedTensor(name: "input.grad.\(label).\(spec.name)", shape: spec.shape, floats: Array(gradients.view(index))))
            }
            try optimizer.step(parameters: parameters, gradients: gradients, learningRate: Float(rate))
            for (index, spec) in specs.enumerated() {
                outputs.append(NamedTensor(name: "output.param.\(label).\(spec.name)", shape: spec.shape, floats: Array(parameters.view(index))))
            }
        }
        for tensor in optimizer.exportState() {
            outputs.append(NamedTensor(name: "output.state.\(tensor.name)", shape: tensor.shape, values: tensor.values))
        }
        return tensors + outputs
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
