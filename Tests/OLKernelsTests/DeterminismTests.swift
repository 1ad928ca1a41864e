import OLCore
import OLTestSupport
import Testing
@testable import OLKernels

/// Every kernel on a shape large enough for several parallel chunks, run twice on one worker and once
/// on two and on three: forward outputs and accumulated gradients must be bitwise equal. This holds on
/// every BLAS kernel by construction (OpenBLAS single-threaded, our own fixed pieces): nothing here
/// depends on the machine. `Parallel.withWorkers` is per calling thread, so the suite runs in parallel
/// with the others, which also exercises the pool being busy (pieces then run in order on the caller).
@Suite("Determinism")
struct DeterminismTests {
    enum Kernel: String, Sendable, CaseIterable {
        case matmul, matmulWide, embedding, layerNorm, rmsNorm, srmsNorm, relu, gelu
        case attentionPlain, attentionQKNorm, attentionSoftCap, attentionQKNormAndSoftCap, crossEntropy, residual
        case attentionClipped, attentionGate

        var kernelCase: KernelCase {
            switch self {
            case .matmul: Cases.matmul(N: 1024, C: 64, OC: 192, seed: 1)
            case .matmulWide: Cases.matmul(N: 48, C: 128, OC: 1600, seed: 14)
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
            case .attentionClipped:
                Cases.attention(B: 2, T: 64, C: 48, H: 4, variant: .plain, seed: 15, qkvStd: 2, clip: SoftmaxClip(alpha: 4, length: 64))
            // 1024 rows of 48 · 5 floats: 16 row chunks for the forward and dx, beside the serial parameter sums.
            case .attentionGate: Cases.attentionGate(N: 1024, C: 48, H: 4, seed: 16)
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

    @Test("forward and backward are bitwise identical run to run and with 1, 2 or 3 workers", arguments: Kernel.allCases)
    func bitwiseIdentical(kernel: Kernel) {
        let kernelCase = kernel.kernelCase
        let first = Self.run(kernelCase, workers: 1)
        Self.expectBitwiseEqual(Self.run(kernelCase, workers: 1), first, "\(kernel): two runs on one worker")
        Self.expectBitwiseEqual(Self.run(kernelCase, workers: 2), first, "\(kernel): two workers against one")
        Self.expectBitwiseEqual(Self.run(kernelCase, workers: 3), first, "\(kernel): three workers against one")
    }

    @Test("the matmul shapes used here really are cut into several sgemm pieces, along rows and along columns")
    func matmulShapesArePartitioned() {
        for (N, C, OC) in [(1024, 64, 192), (48, 128, 1600)] {
            // forward out (N, OC), backward dinp (N, C) with k = OC, dweight (OC, C) with k = N
            for (m, n, k) in [(N, OC, C), (N, C, OC), (OC, C, N)] {
                let partition = GemmPartition(m: m, n: n, k: k)
                #expect(partition.pieces > 1, "(m, n, k) = (\(m), \(n), \(k)): \(partition)")
            }
        }
        #expect(!GemmPartition(m: 48, n: 1600, k: 128).splitsRows, "a wide output is cut into column runs")
    }

    /// Names the first differing tensor (0 = forward output, then the gradients in input order) and index.
    static func expectBitwiseEqual(_ actual: [[UInt32]], _ expected: [[UInt32]], _ what: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(what): tensor count", sourceLocation: sourceLocation)
        for (tensor, (a, e)) in zip(actual, expected).enumerated() {
            OLTestSupport.expectBitwiseEqual(a, e, "\(what), tensor \(tensor)", sourceLocation: sourceLocation)
        }
    }
}
