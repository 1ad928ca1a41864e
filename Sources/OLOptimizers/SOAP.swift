import CBLAS
import OLCore

/// Hyper-parameters of SOAP and of the two optimisers built on its machinery (rotated AdaFactor and the
/// random-rotation Adam ablation).
public struct SOAPConfig: Sendable, Equatable {
    /// How the rotated second moment is kept.
    public enum SecondMoment: String, Sendable, Equatable, Codable {
        /// Element-wise V (SOAP).
        case full
        /// AdaFactor's row/column factors (r, c) of V in the rotated coordinates (rotated AdaFactor).
        case factored
    }

    /// Where the rotation comes from.
    public enum Basis: Sendable, Equatable {
        /// Eigenvectors of Shampoo's GG statistics, refreshed every `preconditionFrequency` steps (SOAP).
        case shampoo
        /// A fixed, Haar-distributed random orthogonal basis per side: the Q factor of a QR of an n×n
        /// standard-normal matrix drawn from the stream `opt.random-rotation.<param>.L|R` under `seed`,
        /// columns multiplied by sign(diag R) (the ablation).
        case random(seed: UInt64)
        /// No rotation and no first-call skip: rotated AdaFactor in this basis is AdaFactor (`AdaFactor`).
        case identity
    }

    /// Default peak learning rate for the trainer's schedule.
    public var learningRate: Double = 3e-3
    public var beta1: Double = 0.95
    public var beta2: Double = 0.95
    /// β_s of the GG moving averages; β₂ when nil.
    public var shampooBeta: Double? = nil
    public var epsilon: Double = 1e-8
    /// Decoupled decay, applied AFTER the update.
    public var weightDecay: Double = 0.01
    /// f: refresh the eigenbasis every f steps.
    public var preconditionFrequency: Int = 10
    /// Axes longer than this are not rotated (identity on that side).
    public var maxPreconditionedDimension: Int = 10000
    /// Rotate embedding tables (wte, which is also the tied head, and wpe) like matrices, on every axis
    /// ≤ `maxPreconditionedDimension`, as soap.py does for every 2-D parameter. Off: they get the identity
    /// basis (plain Adam / AdaFactor after the skipped first call), an ablation.
    public var preconditionEmbeddings = true
    public var secondMoment: SecondMoment = .full
    public var basis: Basis = .shampoo
    /// The official soap.py rotates M back and forward on every step; with this off (default) we do it only
    /// when the basis changes (t % f == 0). The skipped round trip is the identity up to Float rounding
    /// (Q is not exactly orthogonal in Float), so the two settings agree to ~1e-7 relative, not bitwise.
    public var rotateMomentumEveryStep = false
    public var decayedRoles: Set<ParameterRole> = defaultDecayedRoles

    public init() {}

    /// SOAP's machinery with AdaFactor's factored second moment (the paper's "Shampoo"/rotated AdaFactor arm).
    public static func rotatedAdafactor() -> SOAPConfig {
        var config = SOAPConfig()
        config.secondMoment = .factored
        return config
    }

    /// Adam in a fixed, seeded random orthogonal basis (an ablation: rotation without Shampoo's statistics).
    public static func randomRotation(seed: UInt64 = 0) -> SOAPConfig {
        var config = SOAPConfig()
        config.basis = .random(seed: seed)
        return config
    }

    public var kind: OptimizerKind {
        switch basis {
        case .random: .adamRandomRotation
        case .identity: .adafactor
        case .shampoo: secondMoment == .factored ? .rotatedAdafactor : .soap
        }
    }

    var shampooBetaOrBeta2: Double { shampooBeta ?? beta2 }

    public func validate() throws {
        try Check.learningRate(learningRate)
        try Check.beta(beta1, "beta1")
        try Check.beta(beta2, "beta2")
        try Check.beta(shampooBetaOrBeta2, "shampoo beta")
        try Check.nonNegative(epsilon, "epsilon")
        try Check.nonNegative(weightDecay, "weight decay")
        guard preconditionFrequency >= 1 else {
            throw OutlierLabError("precondition frequency f must be ≥ 1, got \(preconditionFrequency)")
        }
        guard maxPreconditionedDimension >= 0 else {
            throw OutlierLabError("max preconditioned dimension must be ≥ 0, got \(maxPreconditionedDimension)")
        }
        if case .random = basis, secondMoment == .factored {
            throw OutlierLabError("the random-rotation ablation uses a full second moment, not a factored one")
        }
    }

    var hyperParameters: [(name: String, value: Double)] {
        var values: [(name: String, value: Double)] = [
            ("lr", learningRate), ("beta1", beta1), ("beta2", beta2), ("shampoo_beta", shampooBetaOrBeta2),
            ("eps", epsilon), ("weight_decay", weightDecay), ("precondition_frequency", Double(preconditionFrequency)),
            ("max_precond_dim", Double(maxPreconditionedDimension)), ("precondition_embeddings", preconditionEmbeddings ? 1 : 0),
            ("factored_second_moment", secondMoment == .factored ? 1 : 0),
            ("rotate_momentum_every_step", rotateMomentumEveryStep ? 1 : 0),
        ]
        if case .random(let seed) = basis { values.append(("rotation_seed", Double(seed))) }
        return values
    }
}

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
    private let routes: [Route]
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
            var state = RotatedState(route: route)
            switch config.basis {
            case .shampoo:
                state.accumulateStatistics(g: g, route: route, decay: 0, weight: Float(1 - config.shampooBetaOrBeta2))
                if route.left { state.qLeft = try ws.eigenbasis(state.ggLeft, n: route.rows, context: "opt.\(name).QL") }
                if route.right { state.qRight = try ws.eigenbasis(state.ggRight, n: route.cols, context: "opt.\(name).QR") }
                slot = state
                return  // the first gradient only seeds the preconditioner
            case .random(let seed):
                if route.left { state.qLeft = try ws.randomBasis(n: route.rows, seed: seed, purpose: "opt.random-rotation.\(name).L") }
                if route.right { state.qRight = try ws.randomBasis(n: route.cols, seed: seed, purpose: "opt.random-rotation.\(name).R") }
                slot = state
            case .identity:
                slot = state
            }
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

/// One tensor's SOAP state (a value). Matrices are row-major; Q's column j is basis vector j.
/// Arrays of sides that are not rotated, and of the unused second-moment form, are empty.
struct RotatedState: TensorState {
    var step = 0
    /// Momentum in the rotated basis.                      (rows, cols)
    var m: [Float]
    /// Second moment in the rotated basis (full form).    (rows, cols)
    var v: [Float]
    /// Factored second moment in the rotated basis.       (rows), (cols)
    var r: [Float]
    var c: [Float]
    var ggLeft: [Float] = []   // (rows, rows)
    var ggRight: [Float] = []  // (cols, cols)
    var qLeft: [Float] = []    // (rows, rows)
    var qRight: [Float] = []   // (cols, cols)

    init(route: SOAP.Route) {
        m = Array(repeating: 0, count: route.count)
        v = route.factored ? [] : Array(repeating: 0, count: route.count)
        r = route.factored ? Array(repeating: 0, count: route.rows) : []
        c = route.factored ? Array(repeating: 0, count: route.cols) : []
        if route.left { ggLeft = Array(repeating: 0, count: route.rows * route.rows) }
        if route.right { ggRight = Array(repeating: 0, count: route.cols * route.cols) }
    }

    /// GG_L ← decay·GG_L + weight·g gᵀ, GG_R ← decay·GG_R + weight·gᵀg (decay 0 overwrites).
    /// ssyrk computes the upper triangle, half of sgemm's arithmetic, and it is mirrored, so GG is exactly
    /// symmetric.
    mutating func accumulateStatistics(g: UnsafePointer<Float>, route: SOAP.Route, decay: Float, weight: Float) {
        let rows = route.rows, cols = route.cols
        if route.left {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(rows), Int32(cols), weight, g, Int32(cols), decay, &ggLeft, Int32(rows))
            mirrorUpperTriangle(&ggLeft, n: rows)
        }
        if route.right {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(cols), Int32(rows), weight, g, Int32(cols), decay, &ggRight, Int32(cols))
            mirrorUpperTriangle(&ggRight, n: cols)
        }
    }

    /// out = Q_Lᵀ x Q_R (x and out distinct; identity on sides that are not rotated).
    func rotateForward(_ x: UnsafePointer<Float>, into out: inout [Float], tmp: inout [Float], route: SOAP.Route) {
        let rows = route.rows, cols = route.cols
        switch (route.left, route.right) {
        case (true, true):
            gemm(true, false, rows, cols, rows, 1, qLeft, rows, x, cols, 0, &tmp, cols)
            gemm(false, false, rows, cols, cols, 1, tmp, cols, qRight, cols, 0, &out, cols)
        case (true, false): gemm(true, false, rows, cols, rows, 1, qLeft, rows, x, cols, 0, &out, cols)
        case (false, true): gemm(false, false, rows, cols, cols, 1, x, cols, qRight, cols, 0, &out, cols)
        case (false, false): out.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: route.count) }
        }
    }

    /// out = Q_L x Q_Rᵀ.
    func rotateBack(_ x: UnsafePointer<Float>, into out: inout [Float], tmp: inout [Float], route: SOAP.Route) {
        let rows = route.rows, cols = route.cols
        switch (route.left, route.right) {
        case (true, true):
            gemm(false, false, rows, cols, rows, 1, qLeft, rows, x, cols, 0, &tmp, cols)
            gemm(false, true, rows, cols, cols, 1, tmp, cols, qRight, cols, 0, &out, cols)
        case (true, false): gemm(false, false, rows, cols, rows, 1, qLeft, rows, x, cols, 0, &out, cols)
        case (false, true): gemm(false, true, rows, cols, cols, 1, x, cols, qRight, cols, 0, &out, cols)
        case (false, false): out.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: route.count) }
        }
    }

    /// M ← β₁M + (1−β₁)g';  V ← β₂V + (1−β₂)g'²;  out = M / (√V + ε), in one pass over memory.
    mutating func adamDirection(_ projected: UnsafePointer<Float>, into out: inout [Float], beta1: Double, beta2: Double, eps: Float) {
        let b1 = Float(beta1), c1 = Float(1 - beta1), b2 = Float(beta2), c2 = Float(1 - beta2)
        let gp = SendablePointer(UnsafeMutablePointer(mutating: projected))
        let count = m.count
        m.withUnsafeMutableBufferPointer { mView in
            v.withUnsafeMutableBufferPointer { vView in
                out.withUnsafeMutableBufferPointer { outView in
                    let mp = SendablePointer(mView), vp = SendablePointer(vView), op = SendablePointer(outView)
                    forEachElementChunk(count) { range in
                        for i in range {
                            mp[i] = b1 * mp[i] + c1 * gp[i]
                            vp[i] = b2 * vp[i] + c2 * (gp[i] * gp[i])
                            op[i] = mp[i] / (vp[i].squareRoot() + eps)
                        }
                    }
                }
            }
        }
    }

    /// Row i of V (or r_i) becomes old row order[i].
    mutating func permuteRows(order: [Int], scratch: inout [Float], route: SOAP.Route) {
        let rows = route.rows, cols = route.cols
        if route.factored {
            for i in 0..<rows { scratch[i] = r[order[i]] }
            for i in 0..<rows { r[i] = scratch[i] }
            return
        }
        for i in 0..<rows { for j in 0..<cols { scratch[i * cols + j] = v[order[i] * cols + j] } }
        for k in 0..<route.count { v[k] = scratch[k] }
    }

    /// Column j of V (or c_j) becomes old column order[j].
    mutating func permuteColumns(order: [Int], scratch: inout [Float], route: SOAP.Route) {
        let rows = route.rows, cols = route.cols
        if route.factored {
            for j in 0..<cols { scratch[j] = c[order[j]] }
            for j in 0..<cols { c[j] = scratch[j] }
            return
        }
        for i in 0..<rows { for j in 0..<cols { scratch[i * cols + j] = v[i * cols + order[j]] } }
        for k in 0..<route.count { v[k] = scratch[k] }
    }
}

/// Scratch buffers and LAPACK solvers, sized once for the largest tensor: not state, never exported.
struct SOAPWorkspace: Sendable {
    var projected: [Float]   // g' (rows, cols)
    var direction: [Float]   // M / (√V + ε) (rows, cols)
    var update: [Float]      // u (rows, cols)
    var original: [Float]    // M in the original basis (rows, cols)
    var tmp: [Float]         // gemm intermediate / permutation scratch (rows, cols)
    var rowScale: [Float]    // r / mean(r) (rows)
    var columnSums: [Double] // (cols)
    var a64: [Double]        // LAPACK matrix, column-major (n, n), leading dimension n or the QR's padded one
    var power: [Float]       // GG·Q, row-major (n, n)
    var a32: [Float]         // refresh QR input/output, column-major (n, n), padded leading dimension
    var transposed: [Float]  // (GG·Q)ᵀ, row-major (n, n)
    var estimates: [Double]  // est_j (n)
    var order: [Int]         // refresh permutation (n)
    var eigensolvers: [Int: SymmetricEigensolver] = [:]
    var factorizers: [Int: HouseholderQR<Double>] = [:]
    var floatFactorizers: [Int: HouseholderQR<Float>] = [:]
    var lapackCalls = 0

    init(routes: [SOAP.Route]) {
        let maxCount = max(1, routes.map { max($0.count, $0.rows, $0.cols) }.max() ?? 1)
        let maxSide = max(1, routes.map { max($0.left ? $0.rows : 1, $0.right ? $0.cols : 1) }.max() ?? 1)
        projected = Array(repeating: 0, count: maxCount)
        direction = projected
        update = projected
        original = projected
        tmp = projected
        rowScale = Array(repeating: 0, count: max(1, routes.map(\.rows).max() ?? 1))
        columnSums = Array(repeating: 0, count: max(1, routes.map(\.cols).max() ?? 1))
        let paddedSide = HouseholderQR<Float>.leadingDimension(maxSide)
        a64 = Array(repeating: 0, count: maxSide * paddedSide)
        power = Array(repeating: 0, count: maxSide * maxSide)
        a32 = Array(repeating: 0, count: maxSide * paddedSide)
        transposed = power
        estimates = Array(repeating: 0, count: maxSide)
        order = Array(0..<maxSide)
    }

    /// W ← W − α·u, with u from `update` (rotated tensors) or `direction` (unrotated).
    func applyUpdate(_ w: UnsafeMutableBufferPointer<Float>, alpha: Float, fromUpdate: Bool) {
        let source = fromUpdate ? update : direction
        source.withUnsafeBufferPointer { sourceView in
            let up = SendablePointer(UnsafeMutablePointer(mutating: sourceView.baseAddress!)), wp = SendablePointer(w)
            forEachElementChunk(w.count) { range in
                for i in range { wp[i] = wp[i] - alpha * up[i] }
            }
        }
    }

    /// Eigenvectors of GG + 1e-30·I (n×n) in Double, columns by descending eigenvalue, rounded to Float.
    mutating func eigenbasis(_ gg: [Float], n: Int, context: String) throws -> [Float] {
        for j in 0..<n {
            for i in 0..<n { a64[i + j * n] = Double(gg[i * n + j]) }
            a64[j + j * n] += 1e-30
        }
        if eigensolvers[n] == nil { eigensolvers[n] = try SymmetricEigensolver(n: n) }
        lapackCalls += 1
        try eigensolvers[n]!.solve(&a64, context: context)
        var q = [Float](repeating: 0, count: n * n)
        // LAPACK's eigenvalues ascend: column j of the result is column n−1−j of LAPACK's (torch.flip).
        for j in 0..<n { for i in 0..<n { q[i * n + (n - 1 - j)] = Float(a64[i + j * n]) } }
        return q
    }

    /// Haar-random orthogonal n×n matrix: the sign-corrected Q factor of a QR of an n×n standard-normal
    /// matrix drawn from `purpose` under `seed`.
    mutating func randomBasis(n: Int, seed: UInt64, purpose: String) throws -> [Float] {
        var stream = RandomStream(seed: seed, purpose: purpose)
        if factorizers[n] == nil { factorizers[n] = try HouseholderQR<Double>(n: n) }
        let lda = factorizers[n]!.lda
        for j in 0..<n { for i in 0..<n { a64[i + j * lda] = stream.nextNormal() } }  // column-major fill
        lapackCalls += 1
        try factorizers[n]!.haarOrthogonalFactor(&a64, context: purpose)
        var q = [Float](repeating: 0, count: n * n)
        for j in 0..<n { for i in 0..<n { q[i * n + j] = Float(a64[i + j * lda]) } }
        return q
    }

    /// One refresh of a side: est_j = (QᵀGGQ)_jj, stable descending sort into `order`, Q ← QR(GG·Q[:, order]).Q.
    /// Float32 like the official soap.py: GG·Q by one single-threaded sgemm, the
    /// estimates summed in Double, the QR by sgeqrf/sorgqr on one thread.
    mutating func refresh(q: inout [Float], gg: [Float], n: Int, context: String) throws {
        gg.withUnsafeBufferPointer { g in
            q.withUnsafeBufferPointer { qv in
                power.withUnsafeMutableBufferPointer { p in
                    gemm(false, false, n, n, n, 1, g.baseAddress!, n, qv.baseAddress!, n, 0, p.baseAddress!, n)
                }
            }
        }
        // est_j = Σ_i Q_ij·P_ij, summed over i in ascending order; rows outermost so both reads are contiguous.
        for j in 0..<n { estimates[j] = 0; order[j] = j }
        q.withUnsafeBufferPointer { qv in
            power.withUnsafeBufferPointer { pv in
                estimates.withUnsafeMutableBufferPointer { est in
                    for i in 0..<n {
                        let qRow = qv.baseAddress! + i * n, pRow = pv.baseAddress! + i * n
                        for j in 0..<n { est[j] += Double(qRow[j]) * Double(pRow[j]) }
                    }
                }
            }
        }
        estimates.withUnsafeBufferPointer { est in
            order.withUnsafeMutableBufferPointer { orderView in
                orderView[0..<n].sort { a, b in est[a] > est[b] || (est[a] == est[b] && a < b) }
            }
        }
        // Column j of the column-major QR input is column order[j] of P, i.e. row order[j] of Pᵀ.
        if floatFactorizers[n] == nil { floatFactorizers[n] = try HouseholderQR<Float>(n: n) }
        let lda = floatFactorizers[n]!.lda
        transposeTiled(power, rows: n, cols: n, stride: n, into: &transposed)
        transposed.withUnsafeBufferPointer { t in
            a32.withUnsafeMutableBufferPointer { a in
                for j in 0..<n { (a.baseAddress! + j * lda).update(from: t.baseAddress! + order[j] * n, count: n) }
            }
        }
        lapackCalls += 1
        try floatFactorizers[n]!.orthogonalFactor(&a32, context: context)
        // The column-major Q, read as a row-major matrix with row stride lda, is Qᵀ.
        transposeTiled(a32, rows: n, cols: n, stride: lda, into: &q)
    }

}

/// Copies the upper triangle of the row-major n×n `a` onto its lower triangle, in 8×8 tiles (see
/// `transposeTiled`).
func mirrorUpperTriangle(_ a: inout [Float], n: Int) {
    let tile = 8
    a.withUnsafeMutableBufferPointer { view in
        let p = view.baseAddress!
        for i0 in stride(from: 0, to: n, by: tile) {
            for j0 in stride(from: 0, through: i0, by: tile) {
                for i in i0..<min(i0 + tile, n) {
                    for j in j0..<min(j0 + tile, i) { p[i * n + j] = p[j * n + i] }
                }
            }
        }
    }
}

/// out[j·rows + i] = x[i·stride + j]: the transpose of the row-major rows×cols `x` (rows `stride` apart),
/// in 8×8 tiles. Tiles keep the strided side in cache; with power-of-two row lengths a larger tile maps
/// every row to the same cache set and is several times slower.
func transposeTiled(_ x: [Float], rows: Int, cols: Int, stride rowStride: Int, into out: inout [Float]) {
    let tile = 8
    x.withUnsafeBufferPointer { xv in
        out.withUnsafeMutableBufferPointer { ov in
            let src = xv.baseAddress!, dst = ov.baseAddress!
            for i0 in stride(from: 0, to: rows, by: tile) {
                for j0 in stride(from: 0, to: cols, by: tile) {
                    for i in i0..<min(i0 + tile, rows) {
                        for j in j0..<min(j0 + tile, cols) { dst[j * rows + i] = src[i * rowStride + j] }
                    }
                }
            }
        }
    }
}

/// Row-major sgemm: C ← alpha·op(A)·op(B) + beta·C, C of size m×n, inner dimension k.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    BLAS.sgemm(transposeA: transA, transposeB: transB, m: m, n: n, k: k, alpha: alpha,
               a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
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

