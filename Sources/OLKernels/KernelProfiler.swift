import OLCore

/// The stages of a training step that `KernelProfiler` times separately (what `olab bench` breaks a
/// step into). The raw value is the stage's slot in the profiler's table.
public enum ProfiledStage: Int, Sendable, CaseIterable {
    case embedding, norm, matmul, attention, activation, residual, crossEntropy, clear
    case clip, optimizer

    /// Names used in the bench table and JSON.
    public var name: String {
        switch self {
        case .embedding: "embedding"
        case .norm: "norm"
        case .matmul: "matmul"
        case .attention: "attention"
        case .activation: "activation"
        case .residual: "residual"
        case .crossEntropy: "cross_entropy"
        case .clear: "clear"
        case .clip: "grad_clip"
        case .optimizer: "optimizer"
        }
    }
}

/// Accumulates wall time per stage and per direction (forward/backward) from a monotonic clock.
/// Installed on a model only while benchmarking: with no profiler the model pays one nil check per
/// kernel call. Not thread-safe; stages are timed on the calling thread around whole kernel calls.
public final class KernelProfiler {
    /// Seconds and call counts per (stage, backward?) slot.
    public private(set) var seconds: [Double]
    public private(set) var calls: [Int]

    public init() {
        seconds = Array(repeating: 0, count: ProfiledStage.allCases.count * 2)
        calls = Array(repeating: 0, count: ProfiledStage.allCases.count * 2)
    }

    public func reset() {
        for i in seconds.indices {
            seconds[i] = 0
            calls[i] = 0
        }
    }

    /// Runs `body` and adds its wall time to `stage`.
    @inline(__always) public func measure<R>(_ stage: ProfiledStage, backward: Bool, _ body: () throws -> R) rethrows -> R {
        let start = Self.now()
        let result = try body()
        let slot = stage.rawValue * 2 + (backward ? 1 : 0)
        seconds[slot] += Self.now() - start
        calls[slot] += 1
        return result
    }

    /// Seconds spent in `stage` (forward or backward) since the last reset.
    public func seconds(_ stage: ProfiledStage, backward: Bool) -> Double { seconds[stage.rawValue * 2 + (backward ? 1 : 0)] }

    /// Calls of `stage` (forward or backward) since the last reset.
    public func calls(_ stage: ProfiledStage, backward: Bool) -> Int { calls[stage.rawValue * 2 + (backward ? 1 : 0)] }

    /// Monotonic seconds (`monotonicSeconds`).
    @inline(__always) public static func now() -> Double { monotonicSeconds() }
}
