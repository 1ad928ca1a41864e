import OLCore

/// SOAP (Vyas et al.), as the official soap.py behaves, and its rotated relatives.
///
/// Per tensor W (rows×cols; vectors and scalars are 1×n with no rotation):
/// - First call (Shampoo basis): no update and no decay; GG_L ← (1−β_s)·g gᵀ, GG_R ← (1−β_s)·gᵀg;
///   Q ← eigenvectors of GG + 1e-30·I, columns by descending eigenvalue. t stays 0. Tensors without a
///   rotated side (vectors, scalars, axes > max dim, embeddings with `preconditionEmbeddings` off) skip
///   their first call too. Embeddings are rotated like matrices by default.
/// - Later calls: g' = Q_Lᵀ g Q_R; t ← t+1; M ← β₁M + (1−β₁)g'; V ← β₂V + (1−β₂)g'² (or factored r, c);
///   u = Q_L (M/(√V+ε)) Q_Rᵀ; W ← W − α·u with α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ) (Double, rounded to Float);
///   W ← W − lr·wd·W (decay after the update); then M back to the original space with the old Q,
///   GG ← β_s·GG + (1−β_s)·(g gᵀ, gᵀg), every f steps a refresh, and M forward with the new Q.
///   M is stored rotated; the back-and-forward rotation is skipped when Q did not change (see
///   `SOAPConfig.rotateMomentumEveryStep`).
/// - Refresh per side: est_j = (Qᵀ GG Q)_jj; columns stably sorted by est descending; V's (or r's / c's)
///   matching axis permuted identically; Q ← Q factor of a Householder QR of GG·Q.
/// Precision: M, V, GG and Q are Float (as torch keeps them) and rotations use sgemm; GG is accumulated
/// by ssyrk (upper triangle, mirrored: exactly symmetric, where torch's g@g.T is symmetric only up to
/// rounding); the initial eigendecomposition runs in Double (dsyevd) and is rounded once to Float; the
/// refresh's power step and QR run in Float (sgemm, sgeqrf/sorgqr) as in soap.py, with est_j summed in
/// Double. LAPACK runs on one OpenBLAS thread: its results depend on the thread count.
/// Speed (see `step`): tensors are stepped in parallel, M/V/direction are one fused pass, the refresh
/// QR uses a padded leading dimension, and no tensor-sized buffer is allocated after the first step.
/// The random-rotation ablation has fixed bases from its seed, no GG and no first-call skip.
/// State: `opt.<p>.step`, `.m`, `.v` or `.r`/`.c`, and per rotated side `.GGL`/`.GGR` (Shampoo only) and
/// `.QL`/`.QR`.
public struct SOAP: Optimizer {
    public let config: SOAPConfig
    public let layout: ArenaLayout
    public var kind: OptimizerKind { config.kind }
    let routes: [Route]
    private var states: TensorStates<RotatedState>
    /// One per worker thread (see `step`); created on first use.
    private var workspaces: [SOAPWorkspace] = []
    /// Tensor indices, most expensive first: the order workers pick them up in.
    private let taskOrder: [Int]
    /// Errors of the parallel step (reused, so a step allocates nothing).
    private let failures = TensorFailures()

    /// Number of LAPACK factorisations run so far (eigendecompositions and QRs); lets tests prove that a
    /// rejected gradient never reached LAPACK.
    public var lapackCalls: Int { workspaces.reduce(0) { $0 + $1.lapackCalls } }

    /// Bytes of the per-worker scratch workspaces built so far (one per worker that stepped), beside the
    /// exported state: what a memory budget must count too.
    public var workspaceBytes: Int { workspaces.reduce(0) { $0 + $1.bytes } }

    /// How one tensor is treated: its matrix view and which sides are rotated.
    struct Route: Sendable {
        let rows: Int
        let cols: Int
        let left: Bool
        let right: Bool
        let factored: Bool
        let decays: Bool
        var count: Int { rows * cols }

        /// Rough arithmetic of one step plus its share of a refresh, used only to schedule big tensors first.
        var cost: Int {
            var total = count
            if left { total += count * rows + rows * rows * rows }
            if right { total += count * cols + cols * cols * cols }
            return total
        }
    }

    public init(config: SOAPConfig = SOAPConfig(), layout: ArenaLayout) throws {
        try config.validate()
        self.config = config
        self.layout = layout
        var routes = [Route]()
        for spec in layout.specs {
            let decays = config.decayedRoles.contains(spec.role) && config.weightDecay > 0
            switch spec.role {
            case .matrix, .embedding:
                let (rows, cols) = try Check.matrixShape(spec)
                let rotated = config.basis != .identity && (spec.role == .matrix || config.preconditionEmbeddings)
                routes.append(Route(rows: rows, cols: cols,
                                    left: rotated && rows <= config.maxPreconditionedDimension,
                                    right: rotated && cols <= config.maxPreconditionedDimension,
                                    factored: config.secondMoment == .factored, decays: decays))
            case .vector, .scalar:
                routes.append(Route(rows: 1, cols: spec.count, left: false, right: false, factored: false, decays: decays))
            }
        }
        self.routes = routes
        states = TensorStates(count: layout.specs.count)
        taskOrder = routes.indices.sorted { routes[$0].cost > routes[$1].cost || (routes[$0].cost == routes[$1].cost && $0 < $1) }
    }

    /// Steps every tensor. Tensors are independent, so with several workers (`Parallel.workerCount`) each
    /// worker takes whole tensors, biggest first, with its own workspace, each product and QR one
    /// single-threaded OpenBLAS call (see `BLAS`): two streams of sgemm and QR keep both cores busier
    /// than one stream of the many mid-sized products split in pieces, and the refresh QRs no longer
    /// queue behind each other. A tensor's arithmetic is the same whichever worker runs it, so the
    /// result is identical to the one-worker order; the tests check this bitwise. One worker takes the same path,
    /// in the same order. If tensors fail, the others are still stepped and the error of the first failing
    /// one in layout order is thrown, whatever the worker count.
    public mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        try Check.stepInputs(layout: layout, parameters: parameters, gradients: gradients, learningRate: learningRate)
        let workers = max(1, min(Parallel.workerCount, routes.count))
        while workspaces.count < workers { workspaces.append(SOAPWorkspace(routes: routes)) }
        let (config, routes, taskOrder, specs, failures) = (config, routes, taskOrder, layout.specs, failures)
        failures.reset()
        states.slots.withUnsafeMutableBufferPointer { statesView in
            workspaces.withUnsafeMutableBufferPointer { workspacesView in
                let statesBase = SendablePointer(statesView), workspacesBase = SendablePointer(workspacesView)
                Parallel.forEachTask(count: taskOrder.count, workers: workers) { task, worker in
                    let index = taskOrder[task]
                    do {
                        try Self.stepTensor(&statesBase.base[index], route: routes[index], name: specs[index].name,
                                            config: config, w: parameters.view(index),
                                            g: gradients.view(index).baseAddress!, learningRate: learningRate,
                                            workspace: &workspacesBase.base[worker])
                    } catch {
                        failures.record(error, tensor: index)
                    }
                }
            }
        }
        if let error = failures.first { throw error }
    }

    static func stepTensor(
        _ slot: inout RotatedState?, route: Route, name: String, config: SOAPConfig,
        w: UnsafeMutableBufferPointer<Float>, g: UnsafeMutablePointer<Float>, learningRate: Float,
        workspace ws: inout SOAPWorkspace
    ) throws {
        let beta2 = config.beta2
        if slot == nil {
            let (state, seedsOnly) = try firstState(route: route, name: name, config: config, g: g, workspace: &ws)
            slot = state
            if seedsOnly { return }  // the first gradient only seeds the preconditioner
        }
        var state = slot!
        slot = nil  // keeps `state` uniquely referenced, so its arrays are updated in place
        defer { slot = state }
        let rows = route.rows, cols = route.cols
        let rotated = route.left || route.right

        // g' = Q_Lᵀ g Q_R (a copy of g when no side is rotated)
        state.rotateForward(g, into: &ws.projected, tmp: &ws.tmp, route: route)
        state.step += 1

        // M ← β₁M + (1−β₁)g';  direction = M / (√V + ε), in the rotated basis
        let eps = Float(config.epsilon)
        if route.factored {
            momentumUpdate(&state.m, ws.projected, beta1: config.beta1)
            FactoredSecondMoment.update(r: &state.r, c: &state.c, g: ws.projected,
                                        rows: rows, cols: cols, beta2: beta2, columnSums: &ws.columnSums)
            FactoredSecondMoment.rowScale(state.r, into: &ws.rowScale)
            FactoredSecondMoment.direction(out: &ws.direction, m: state.m, rowScale: ws.rowScale, c: state.c,
                                           rows: rows, cols: cols, eps: eps)
        } else {
            state.adamDirection(ws.projected, into: &ws.direction, beta1: config.beta1, beta2: beta2, eps: eps)
        }

        // u = Q_L direction Q_Rᵀ;  W ← W − α·u;  W ← W − lr·wd·W
        if rotated { state.rotateBack(ws.direction, into: &ws.update, tmp: &ws.tmp, route: route) }
        let alpha = hfStepSize(learningRate: learningRate, beta1: config.beta1, beta2: beta2, step: state.step)
        ws.applyUpdate(w, alpha: alpha, fromUpdate: rotated)
        if route.decays { decayAfterUpdate(w, Float(Double(learningRate) * config.weightDecay)) }

        guard case .shampoo = config.basis, rotated else { return }
        try updateBasis(&state, route: route, name: name, config: config, g: g, workspace: &ws)
    }

    /// A tensor's state before its first update: Shampoo's first gradient seeds GG and Q (and is not
    /// applied: `seedsOnly`), the random rotation draws its fixed bases, the identity basis needs nothing.
    private static func firstState(
        route: Route, name: String, config: SOAPConfig, g: UnsafeMutablePointer<Float>, workspace ws: inout SOAPWorkspace
    ) throws -> (state: RotatedState, seedsOnly: Bool) {
        var state = RotatedState(route: route)
        switch config.basis {
        case .shampoo:
            state.accumulateStatistics(g: g, route: route, decay: 0, weight: Float(1 - config.shampooBetaOrBeta2))
            if route.left { state.qLeft = try ws.eigenbasis(state.ggLeft, n: route.rows, context: "opt.\(name).QL") }
            if route.right { state.qRight = try ws.eigenbasis(state.ggRight, n: route.cols, context: "opt.\(name).QR") }
            return (state, true)
        case .random(let seed):
            if route.left { state.qLeft = try ws.randomBasis(n: route.rows, seed: seed, purpose: "opt.random-rotation.\(name).L") }
            if route.right { state.qRight = try ws.randomBasis(n: route.cols, seed: seed, purpose: "opt.random-rotation.\(name).R") }
            return (state, false)
        case .identity:
            return (state, false)
        }
    }

    /// After a Shampoo-basis update: GG's moving average, every f steps a refresh of Q (with V's axes
    /// permuted to match), and M carried from the old basis to the new one.
    private static func updateBasis(
        _ state: inout RotatedState, route: Route, name: String, config: SOAPConfig, g: UnsafeMutablePointer<Float>,
        workspace ws: inout SOAPWorkspace
    ) throws {
        let rows = route.rows, cols = route.cols
        let refresh = state.step % config.preconditionFrequency == 0
        let rotateMomentum = refresh || config.rotateMomentumEveryStep
        if rotateMomentum { state.rotateBack(state.m, into: &ws.original, tmp: &ws.tmp, route: route) }
        let betaS = config.shampooBetaOrBeta2
        state.accumulateStatistics(g: g, route: route, decay: Float(betaS), weight: Float(1 - betaS))
        if refresh {
            if route.left {
                try ws.refresh(q: &state.qLeft, gg: state.ggLeft, n: rows, context: "opt.\(name).QL")
                state.permuteRows(order: ws.order, scratch: &ws.tmp, route: route)
            }
            if route.right {
                try ws.refresh(q: &state.qRight, gg: state.ggRight, n: cols, context: "opt.\(name).QR")
                state.permuteColumns(order: ws.order, scratch: &ws.tmp, route: route)
            }
        }
        if rotateMomentum { state.rotateForward(ws.original, into: &state.m, tmp: &ws.tmp, route: route) }
    }

    /// The state table: `m`, then `v` or `r`/`c`, then per rotated side `GG` (Shampoo basis only) and `Q`.
    static func stateFields(_ layout: ArenaLayout, routes: [Route], basis: SOAPConfig.Basis) -> (Int) -> [StateField<RotatedState>] {
        { index in
            let route = routes[index], shape = layout.specs[index].shape, shampoo = basis == .shampoo
            var fields = [StateField<RotatedState>(name: "m", shape: shape, values: \.m)]
            if route.factored {
                fields += [StateField(name: "r", shape: [route.rows], values: \.r), StateField(name: "c", shape: [route.cols], values: \.c)]
            } else {
                fields.append(StateField(name: "v", shape: shape, values: \.v))
            }
            if route.left {
                if shampoo { fields.append(StateField(name: "GGL", shape: [route.rows, route.rows], values: \.ggLeft)) }
                fields.append(StateField(name: "QL", shape: [route.rows, route.rows], values: \.qLeft))
            }
            if route.right {
                if shampoo { fields.append(StateField(name: "GGR", shape: [route.cols, route.cols], values: \.ggRight)) }
                fields.append(StateField(name: "QR", shape: [route.cols, route.cols], values: \.qRight))
            }
            return fields
        }
    }

    public func exportState() -> [NamedTensor] {
        states.export(layout, fields: Self.stateFields(layout, routes: routes, basis: config.basis))
    }

    public mutating func importState(_ tensors: [NamedTensor]) throws {
        let (layout, routes) = (layout, routes)
        try states.import(tensors, layout, fresh: { RotatedState(route: routes[$0]) },
                          fields: Self.stateFields(layout, routes: routes, basis: config.basis))
    }
}

/// Errors raised by tensors stepped on worker threads; `first` is the one of the lowest tensor index, so the
/// message does not depend on thread timing.
private final class TensorFailures: @unchecked Sendable {
    private let mutex = Mutex()
    private var errors: [(tensor: Int, error: any Error)] = []
    func record(_ error: any Error, tensor: Int) { mutex.locked { errors.append((tensor, error)) } }
    func reset() { mutex.locked { errors.removeAll(keepingCapacity: true) } }
    var first: (any Error)? { mutex.locked { errors.min { $0.tensor < $1.tensor }?.error } }
}
