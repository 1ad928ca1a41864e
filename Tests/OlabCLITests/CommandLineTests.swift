import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

@Suite("olab train on the command line", .serialized)
struct CommandLineTests {

    @Test("bad input gives one clear line on stderr and exit status 2, and leaves no run directory", arguments: [
        (["--block", "preLayerNorm"], "block must be one of preLN|preRMS|preSRMS|postLN|op|noNorm"),
        (["--width", "30", "--heads", "4"], "width 30 is not divisible by heads 4"),
        (["--lr=-0.1"], "lr must be a non-negative number"),
        (["--corpus", "/nonexistent/corpus"], "/nonexistent/corpus"),
        (["--optimizer", "adamw", "--momentum", "0.9"], "momentum does not apply to optimizer adamw"),
        (["--optimizer", "adamw", "--precondition-embeddings", "false"], "precondition_embeddings does not apply to optimizer adamw"),
        (["--config", "/nonexistent/config.json"], "cannot read /nonexistent/config.json"),
        (["--stop-after", "0"], "--stop-after must be positive"),
        (["--crop-align", "word"], "crop_align must be one of none|line, got 'word'"),
        (["--final-lr-fraction", "2"], "final_lr_fraction must be in [0, 1]"),
    ])
    func badInput(arguments: [String], expected: String) throws {
        let directory = "/tmp/olab-cli-bad-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let result = try runOlab(["train"] + tinyModelFlags + arguments + ["--out", directory])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: ") && result.err.contains(expected), "stderr: \(result.err)")
        #expect(result.err.split(separator: "\n").count == 1)
        #expect(result.out.isEmpty)
        #expect(!FilePath.exists(directory + "/config.json"))
    }

    @Test("resuming a directory with a corrupt checkpoint fails with one line naming the file")
    func corruptCheckpoint() throws {
        let directory = try scratchDirectory("cli-corrupt")
        let first = try runOlab(["train"] + tinyModelFlags + ["--steps", "20", "--stop-after", "10", "--out", directory + "/run"])
        #expect(first.status == 0)
        #expect(first.err.contains("stopped at step 10, checkpoint written; continue with: olab train --resume \(directory)/run"))
        try AtomicFile.write("not a checkpoint", to: directory + "/run/checkpoint.safetensors")
        let resumed = try runOlab(["train", "--resume", directory + "/run"])
        #expect(resumed.status == 2)
        #expect(resumed.err.contains("\(directory)/run/checkpoint.safetensors"))
        #expect(resumed.err.split(separator: "\n").count == 1)
    }

    @Test("a run stopped by SIGKILL, SIGTERM or SIGINT mid-training resumes to the uninterrupted result",
          arguments: [SIGKILL, SIGTERM, SIGINT])
    func interruptAndResume(signal: Int32) throws {
        let directory = try scratchDirectory("cli-signal-\(signal)")
        let arguments = tinyModelFlags + ["--steps", "300", "--checkpoint-every", "10", "--log-every", "10"]
        let straight = try runOlab(["train"] + arguments + ["--out", directory + "/straight"])
        #expect(straight.status == 0)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: olabExecutable)
        process.arguments = ["train"] + arguments + ["--out", directory + "/stopped"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        // Wait (bounded) until the first periodic checkpoint exists, then send the signal.
        let checkpoint = directory + "/stopped/checkpoint.safetensors"
        var polls = 0
        while !FilePath.exists(checkpoint) && process.isRunning && polls < 2000 {
            usleep(5_000)
            polls += 1
        }
        kill(process.processIdentifier, signal)
        let stderrText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // 300 steps take far longer than one 5 ms poll after the first checkpoint at step 10.
        if signal == SIGKILL {
            #expect(process.terminationReason == .uncaughtSignal)
        } else {
            #expect(process.terminationReason == .exit && process.terminationStatus == 128 + signal)
            #expect(stderrText.contains("interrupted by signal \(signal) at step"))
            #expect(stderrText.contains("continue with: olab train --resume \(directory)/stopped"))
        }
        #expect(!FilePath.exists(directory + "/stopped/model.safetensors"))
        let resumed = try runOlab(["train", "--resume", directory + "/stopped"])
        #expect(resumed.status == 0, "stderr: \(resumed.err)")
        try expectBitwiseEqual(FileBytes.read(directory + "/straight/model.safetensors"), FileBytes.read(directory + "/stopped/model.safetensors"), "model.safetensors")
        // Exactly one line per logged step after the resume: none repeated, none missing.
        try expectSameLines(metricsWithoutWallClock(directory + "/straight"), metricsWithoutWallClock(directory + "/stopped"), "metrics.jsonl without wall clock")
    }
}
