import OLCore
import OLTestSupport
import Testing
@testable import OLOptimizers

/// SOAP steps whole tensors on several workers, or all tensors in order on one worker; OpenBLAS is on
/// one thread for the whole process either way. `Parallel.withWorkers` is per calling thread, so these
/// tests may run beside others.
@Suite("SOAP on worker threads")
struct SOAPParallelTests {
    /// Transformer-shaped matrices (d = 128, 4d MLP, fused QKV), big enough for several tasks per worker
    /// and refreshes with real QRs, plus an embedding and a vector.
    static let benchShapedSpecs = [
        TensorSpec(name: "fc", shape: [512, 128], role: .matrix),
        TensorSpec(name: "proj", shape: [128, 512], role: .matrix),
        TensorSpec(name: "qkv", shape: [384, 128], role: .matrix),
        TensorSpec(name: "attn", shape: [128, 128], role: .matrix),
        TensorSpec(name: "wte", shape: [256, 128], role: .embedding),
        TensorSpec(name: "gain", shape: [128], role: .vector),
    ]

    /// Parameters and state after 7 calls with f = 3 (first call, then refreshes at t = 3 and 6).
    static func run(_ kind: OptimizerKind, workers: Int) throws -> (parameters: [UInt32], state: [String: [UInt64]]) {
        var problem = Problem(benchShapedSpecs, seed: 5)
        var optimizer = try testConfig(kind).makeOptimizer(layout: problem.layout)
        try Parallel.withWorkers(workers) {
            for _ in 0..<7 {
                problem.drawGradients(std: 0.1)
                try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 1e-3)
            }
        }
        return (bits(problem.parameters.storage), bits(optimizer.exportState()))
    }

    @Test("one, two and three workers give the same bits", arguments: [OptimizerKind.soap, .rotatedAdafactor, .adamRandomRotation])
    func workersDoNotChangeBits(kind: OptimizerKind) throws {
        let sequential = try Self.run(kind, workers: 1)
        for workers in [2, 3] {
            let other = try Self.run(kind, workers: workers)
            expectBitwiseEqual(other.parameters, sequential.parameters, "\(kind.rawValue): parameters with \(workers) workers against 1")
            expectBitwiseEqual(other.state, sequential.state, "\(kind.rawValue): state with \(workers) workers against 1")
        }
    }
}
