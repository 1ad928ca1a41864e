import OLCore

/// One tensor's optimiser state: a step count and float arrays (moments, factors, bases).
protocol TensorState: Sendable {
    var step: Int { get set }
}

/// One float field of a tensor's state as checkpoints store it: `opt.<param>.<name>`, F32 of `shape`.
struct StateField<State: TensorState> {
    let name: String
    let shape: [Int]
    let values: WritableKeyPath<State, [Float]>
}

/// Per-tensor states in layout order (nil until a tensor's first step), stepped by one loop and exported
/// and imported by one state table: each optimiser only says which fields a tensor has.
struct TensorStates<State: TensorState>: Sendable {
    var slots: [State?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The per-tensor loop of an element-wise optimiser step: checks the inputs (`Check.stepInputs`),
    /// then hands `body` every tensor's spec, its state (`fresh` before its first step), its parameter,
    /// its gradient and whether it is decayed. The state is taken out of its slot while `body` runs, so
    /// its arrays are uniquely referenced and update in place.
    mutating func step(
        _ layout: ArenaLayout, parameters: FloatArena, gradients: FloatArena, learningRate: Float,
        decayedRoles: Set<ParameterRole>, weightDecay: Double, fresh: (TensorSpec) -> State,
        _ body: (_ spec: TensorSpec, _ state: inout State, _ w: SendablePointer<Float>, _ g: SendablePointer<Float>, _ decays: Bool) -> Void
    ) throws {
        try Check.stepInputs(layout: layout, parameters: parameters, gradients: gradients, learningRate: learningRate)
        for (index, spec) in layout.specs.enumerated() {
            var state = slots[index] ?? fresh(spec)
            slots[index] = nil
            body(spec, &state, SendablePointer(parameters.view(index)), SendablePointer(gradients.view(index)),
                 decayedRoles.contains(spec.role) && weightDecay > 0)
            slots[index] = state
        }
    }

    /// `opt.<param>.step` and then every field of `fields(index)`, for each tensor that has state.
    func export(_ layout: ArenaLayout, fields: (Int) -> [StateField<State>]) -> [NamedTensor] {
        var writer = StateWriter()
        for (index, spec) in layout.specs.enumerated() {
            guard let state = slots[index] else { continue }
            writer.step(spec.name, state.step)
            for field in fields(index) { writer.floats(spec.name, field.name, shape: field.shape, state[keyPath: field.values]) }
        }
        return writer.tensors
    }

    /// Reads back what `export` wrote (checking every dtype and shape, and that nothing is left over);
    /// a tensor without state stays nil.
    mutating func `import`(_ tensors: [NamedTensor], _ layout: ArenaLayout, fresh: (Int) -> State,
                           fields: (Int) -> [StateField<State>]) throws {
        var reader = try StateReader(tensors)
        var imported = [State?]()
        for (index, spec) in layout.specs.enumerated() {
            guard reader.hasState(for: spec.name) else { imported.append(nil); continue }
            var state = fresh(index)
            state.step = try reader.step(spec.name)
            for field in fields(index) { state[keyPath: field.values] = try reader.floats(spec.name, field.name, shape: field.shape) }
            imported.append(state)
        }
        try reader.finish()
        slots = imported
    }
}

/// An optimiser whose per-tensor state depends only on the tensor's spec (SGD, AdamW): its state export
/// and import come from its state table alone.
protocol ElementwiseOptimizer: Optimizer {
    associatedtype State: TensorState
    var states: TensorStates<State> { get set }
    /// The state before a tensor's first step.
    static func fresh(_ spec: TensorSpec) -> State
    /// The fields of a tensor's state, in export order.
    static func stateFields(_ spec: TensorSpec) -> [StateField<State>]
}

extension ElementwiseOptimizer {
    public func exportState() -> [NamedTensor] {
        let specs = layout.specs
        return states.export(layout) { Self.stateFields(specs[$0]) }
    }

    public mutating func importState(_ tensors: [NamedTensor]) throws {
        let (layout, specs) = (layout, layout.specs)
        try states.import(tensors, layout, fresh: { Self.fresh(specs[$0]) }, fields: { Self.stateFields(specs[$0]) })
    }
}
