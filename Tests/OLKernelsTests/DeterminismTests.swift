import OLCore
import Testing
@testable import OLKernels

/// Every kernel on a shape large enough for several parallel chunks, run twice on one worker and once
/// on two: forward outputs and accumulated gradients must be bitwise equal. Serialized because
/// `Parallel.withWorkers` and `BLASInfo.setThreads` set process-wide thread counts.
@Suite("Determinism", .serialized)
struct DeterminismTests {
    enum Kernel: String, Sendable, CaseIterable {
        case matmul, embedding, layerNorm, rmsNorm, srmsNorm, relu, gelu
        case attentionPlain, attentionQKNorm, attentionSoftCap, attentionQKNormAndSoftCap, crossEntropy, residual

        var kernelCase: KernelCase {
            switch self {
            case .matmul: Cases.matmul(N: 256, C: 48, OC: 96, seed: 1)
            case .embedding: Cases.embedding(B: 8, T: 64, C: 48, V: 256, seed: 2)
            case .layerNorm: Cases.layerNorm(N: 1024, C: 48, seed: 3)
            case .rmsNorm: Cases.rmsNorm(N: 1024, C: 48, seed: 4)
            case .srmsNorm: Cases.srmsNorm(N: 1024, C: 48, seed: 5)
            case .relu: Cases.activation(.relu, N: 40_000, seed: 6)
            case .gelu: Cases.activation(.gelu, N: 40_000, seed: 7)
            case .attentionPlain: Cases.attention(B: 2, T: 64, C: 48, H: 4, variant: .plain, seed: 8)
            case .attentionQKNorm: Cases.attention(B: 2, T: 64, C: 48, H: 4, variant: .qkNorm, seed: 9)
            case .attentionSoftCap: Cases.attention(B: 2, T: 64, C: 48, H: 4, variant: .softCap, seed: 10)
            case .attentionQKNormAndSoftCap: Cases.attention(B: 2, T: 64, C: 48, H: 4, variant: .qkNormAndSoftCap, seed: 11)
            case .crossEntropy: Cases.crossEntropy(N: 512, V: 256, seed: 12)
            case .residual: Cases.residual(N: 40_000, seed: 13)
            }
        }
    }

    /// Forward output and gradients, each as bit patterns.
    static func run(_ kernel: KernelCase, workers: Int) -> [[UInt32]] {
        Parallel.withWorkers(workers) {
            let out = kernel.forward(kernel.inputs)
            let dout = randomFloats(out.count, seed: 99)
            let initial = kernel.inputs.enumerated().map { randomFloats($1.count, seed: 100 + UInt64($0)) }
            let grads = kernel.backward(kernel.inputs, dout, initial)
            return ([out] + grads).map { $0.map(\.bitPattern) }
        }
    }

    @Test("forward and backward are bitwise identical run to run and with 1 or 2 workers", arguments: Kernel.allCases)
    func bitwiseIdentical(kernel: Kernel) {
        let kernelCase = kernel.kernelCase
        let first = Self.run(kernelCase, workers: 1)
        Self.expectBitwiseEqual(first, Self.run(kernelCase, workers: 1), "two runs on one worker")
        Self.expectBitwiseEqual(first, Self.run(kernelCase, workers: 2), "one and two workers")
    }

    @Test("sgemm-based kernels give the same bits with 1 and 2 OpenBLAS threads (on this machine)",
          arguments: [Kernel.matmul, .attentionPlain, .attentionQKNormAndSoftCap])
    func independentOfBLASThreads(kernel: Kernel) {
        let kernelCase = kernel.kernelCase
        let saved = BLASInfo.current.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(1)
        let one = Self.run(kernelCase, workers: 2)
        BLASInfo.setThreads(2)
        Self.expectBitwiseEqual(one, Self.run(kernelCase, workers: 2), "one and two BLAS threads")
    }

    /// Names the first differing tensor (0 = forward output, then the gradients in input order) and index.
    static func expectBitwiseEqual(_ a: [[UInt32]], _ b: [[UInt32]], _ what: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        for (tensor, (x, y)) in zip(a, b).enumerated() where x != y {
            let index = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
            Issue.record("\(what): tensor \(tensor) differs first at index \(index)", sourceLocation: sourceLocation)
            return
        }
    }
}
