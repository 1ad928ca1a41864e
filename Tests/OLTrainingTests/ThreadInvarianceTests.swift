import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

/// The determinism guarantee as a user meets it: `olab train` in child processes whose environment sets
/// OLAB_THREADS to 1, 2 or 3 and OPENBLAS_NUM_THREADS to 1 or 2 writes byte-identical checkpoints and
/// the same metrics, for every block and every optimiser, on whatever machine and BLAS kernel runs the
/// suite (nothing here is toggled inside the test process).
@Suite("Thread settings never change results")
struct ThreadInvarianceTests {
    struct Arm: Sendable, CustomTestStringConvertible {
        var block: String, optimizer: String
        /// More flags (the attention remedies).
        var extra: [String] = []
        var testDescription: String { "\(block)+\(optimizer)" + extra.joined(separator: " ") }
        /// Every block with AdamW, and every optimiser on the OP block.
        static let all = ["preLN", "preRMS", "preSRMS", "postLN", "op", "noNorm"].map { Arm(block: $0, optimizer: "adamw") }
            + ["sgd", "adafactor", "soap", "rotated-adafactor", "adam-random-rotation"].map { Arm(block: "op", optimizer: $0) }
            + remedies
        /// Bondarenko et al.'s remedies on Pre-LN, with AdamW and with SOAP (which preconditions the gate's weight).
        static let remedies = [
            Arm(block: "preLN", optimizer: "adamw", extra: ["--clipped-softmax-alpha", "4"]),
            Arm(block: "preLN", optimizer: "adamw", extra: ["--gated-attention"]),
            Arm(block: "preLN", optimizer: "soap", extra: ["--clipped-softmax-alpha", "4", "--gated-attention"]),
        ]
    }

    /// (OLAB_THREADS, OPENBLAS_NUM_THREADS): the first is the reference the others must equal.
    static let settings = [("1", "1"), ("2", "2"), ("3", "2"), ("2", "1")]

    @Test("OLAB_THREADS 1, 2, 3 and OPENBLAS_NUM_THREADS 1, 2 give byte-identical checkpoints and metrics", arguments: Arm.all)
    func childProcessesAgree(arm: Arm) throws {
        // 12 steps: past SOAP's first basis refresh (f = 10), with a log line at 0, 6 and 12.
        let arguments = tinyModelFlags + ["--block", arm.block, "--optimizer", arm.optimizer,
                                                 "--steps", "12", "--log-every", "6"] + arm.extra
        var reference: (checkpoint: [UInt8], metrics: [String])?
        for (workers, blasThreads) in Self.settings {
            let directory = try scratchDirectory("threads-\(arm.block)-\(arm.optimizer)-\(arm.extra.joined())-\(workers)-\(blasThreads)")
            let result = try runOlab(["train"] + arguments + ["--out", directory],
                                     environment: ["OLAB_THREADS": workers, "OPENBLAS_NUM_THREADS": blasThreads])
            try #require(result.status == 0, "olab train failed: \(result.err)")
            let summary = try JSONValue.parse(try FileBytes.readText(directory + "/summary.json"))
            #expect(summary["blas"]?["threads"]?.intValue == 1, "OpenBLAS must run on one thread")
            #expect(summary["blas"]?["threads_at_load"]?.intValue == Int(blasThreads), "the child saw OPENBLAS_NUM_THREADS")
            #expect(summary["blas"]?["workers"]?.intValue == Int(workers), "the child saw OLAB_THREADS")
            let run = (try FileBytes.read(directory + "/model.safetensors"), try metricsWithoutWallClock(directory))
            if let reference {
                let what = "\(arm.testDescription), OLAB_THREADS=\(workers) OPENBLAS_NUM_THREADS=\(blasThreads) against 1/1"
                expectBitwiseEqual(run.0, reference.checkpoint, "\(what): model.safetensors")
                expectSameLines(run.1, reference.metrics, "\(what): metrics.jsonl")
            } else {
                reference = run
            }
        }
    }
}
