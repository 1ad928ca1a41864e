import OLCore
import Testing
@testable import OLOptimizers

/// SOAP steps whole tensors on several workers with OpenBLAS on one thread, or all tensors in order on
/// one worker with OpenBLAS on its own threads. Serialized: both settings are process-wide.
@Suite("SOAP on worker threads", .serialized)
struct SOAPParallelTests {
    /// Transformer-shaped matrices (d = 128, 4d MLP, fused QKV), big enough that OpenBLAS really splits
    /// its sgemm, syrk and QR over two threads on the one-worker path, plus an embedding and a vector that
    /// take the unrotated route.
    static let benchShapedSpecs = [
        TensorSpec(name: "fc", shape: [512, 128], role: .matrix),
        TensorSpec(name: "proj", shape: [128, 512], role: .matrix),
        TensorSpec(name: "qkv", shape: [384, 128], role: .matrix),
        TensorSpec(name: "attn", shape: [128, 128], role: .matrix),
        TensorSpec(name: "wte", shape: [256, 128], role: .embedding),
        TensorSpec(name: "gain", shape: [128], role: .vector),
    ]

    /// Parameters and state after 7 calls with f = 3 (first call, then refreshes at t = 3 and 6).
    static func run(_ kind: OptimizerKind, workers: Int, blasThreads: Int) throws -> (parameters: [UInt32], state: [String: [UInt64]]) {
        var problem = Problem(benchShapedSpecs, seed: 5)
        var optimizer = try testConfig(kind).makeOptimizer(layout: problem.layout)
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(blasThreads)
        try Parallel.withWorkers(workers) {
            for _ in 0..<7 {
                problem.drawGradients(std: 0.1)
                try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 1e-3)
            }
        }
        return (bits(problem.parameters.storage), bits(optimizer.exportState()))
    }

    @Test("one worker on two BLAS threads and two workers on one BLAS thread each give the same bits",
          arguments: [OptimizerKind.soap, .rotatedAdafactor, .adamRandomRotation])
    func workersDoNotChangeBits(kind: OptimizerKind) throws {
        let sequential = try Self.run(kind, workers: 1, blasThreads: 2)
        let parallel = try Self.run(kind, workers: 2, blasThreads: 2)
        let threeWorkers = try Self.run(kind, workers: 3, blasThreads: 1)
        for (name, other) in [("two workers", parallel), ("three workers on one BLAS thread", threeWorkers)] {
            #expect(Self.firstDifference(sequential, other) == nil, "one worker against \(name)")
        }
    }

    /// Where two runs first differ (parameter index or state tensor name), or nil when bitwise equal.
    static func firstDifference(_ a: (parameters: [UInt32], state: [String: [UInt64]]),
                                _ b: (parameters: [UInt32], state: [String: [UInt64]])) -> String? {
        if let index = zip(a.parameters, b.parameters).enumerated().first(where: { $1.0 != $1.1 })?.offset {
            return "parameter element \(index)"
        }
        if let name = a.state.keys.sorted().first(where: { a.state[$0] != b.state[$0] }) { return "state tensor \(name)" }
        return a.state.count == b.state.count ? nil : "state tensor count"
    }

    @Test("the process's OpenBLAS thread count is restored after a parallel step")
    func blasThreadsRestored() throws {
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(2)
        var problem = Problem(Array(Self.benchShapedSpecs.suffix(3)), seed: 6)
        var optimizer = try SOAP(config: SOAPConfig(), layout: problem.layout)
        try Parallel.withWorkers(2) {
            for _ in 0..<2 {
                problem.drawGradients()
                try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 1e-3)
            }
        }
        #expect(BLASInfo.threads == 2)
    }
}
