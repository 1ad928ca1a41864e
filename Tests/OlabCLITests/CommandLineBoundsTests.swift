import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

/// Sizes, numbers, strings and output of every subcommand (issue 18 items 6, 7, 8 and 10): a size flag
/// is bounded before anything grows with it, a number is what it says or refused, a result that cannot
/// be written is an error, and an error is one bounded line.
@Suite("Command line: bounded sizes, exact numbers, checked output, bounded error lines")
struct CommandLineBoundsTests {
    /// A finished tiny run's final checkpoint (2 evaluation windows, probe batch 1), trained once for
    /// every test here (none of them writes to it).
    static func trainedCheckpoint(_ label: String) throws -> String { try shared.get() }

    private static let shared = Result<String, any Error> {
        let directory = try scratchDirectory("bounds")
        let result = try runOlab(["train"] + fourStepRunFlags + ["--out", directory + "/run"])
        guard result.status == 0 else { throw OutlierLabError("training the shared checkpoint failed: \(result.err)") }
        return directory + "/run/model.safetensors"
    }

    @Test("every size flag of eval and metrics is bounded before it allocates; flags of another scheme are refused", arguments: [
        (["eval", "--batch", "9223372036854775807"], "--batch must be at most 2, got 9223372036854775807"),
        (["eval", "--batch", "0"], "--batch must be a positive integer, got 0"),
        (["eval", "--windows", "9223372036854775807"], "--windows 9223372036854775807: the validation split of"),
        (["eval", "--windows=-4"], "--windows must be a positive integer, got -4"),
        (["eval", "--quant", "w8a8-static", "--calibration-batches", "9223372036854775807"], "--calibration-batches must be at most 100000"),
        (["eval", "--percentile", "99.9"], "--percentile applies only to --quant w8a8-static"),
        (["eval", "--quant", "w8a8-naive", "--calibration-seed", "3"], "--calibration-seed applies only to --quant w8a8-static"),
        (["eval", "--quant", "w8a8-fine", "--calibration-batches", "3"], "--calibration-batches applies only to --quant w8a8-static"),
        (["metrics", "--probe-batch", "9223372036854775807"], "olab metrics: a probe batch of 9223372036854775807 sequences of 16 tokens needs more memory than can be addressed"),
        (["metrics", "--probe-batch", "1000000000"], "olab metrics: a probe batch of 1000000000 sequences of 16 tokens needs at least"),
        (["metrics", "--probe-batch", "0"], "--probe-batch must be a positive integer, got 0"),
    ])
    func evaluationSizes(arguments: [String], expected: String) throws {
        let checkpoint = try Self.trainedCheckpoint(arguments[0])
        let result = try runOlab(arguments + ["--checkpoint", checkpoint])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: ") && result.err.contains(expected), "\(result.err)")
        #expect(result.err.split(separator: "\n").count == 1 && result.out.isEmpty)
    }

    @Test("size flags of train, bench and fuzz are bounded, and --steps near Int64.max is refused, not trapped on", arguments: [
        (["train", "--steps", "9223372036854775807"], "tokens is more than can be counted; reduce steps"),
        (["train", "--batch", "9223372036854775807"], "needs more memory than can be addressed"),
        (["train", "--eval-windows", "9223372036854775807"], "evaluating eval_windows 9223372036854775807 windows of"),
        (["bench", "--repeats", "99999999999"], "--repeats must be at most 1000000, got 99999999999"),
        (["bench", "--threads", "100000"], "--threads must be at most 1024, got 100000"),
        (["bench", "--steps", "0"], "--steps must be a positive integer, got 0"),
        (["fuzz", "--target", "config", "--max-input-bytes", "99999999999"], "--max-input-bytes must be at most 67108864"),
        (["fuzz", "--target", "config", "--iterations", "99999999999"], "--iterations must be in 0...1000000000"),
    ])
    func otherSizes(arguments: [String], expected: String) throws {
        let directory = try scratchDirectory("other-sizes")
        let result = try runOlab(arguments, directory: directory)
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: ") && result.err.contains(expected), "\(result.err)")
        #expect(try FilePath.entries(of: directory).isEmpty)
    }

    @Test("a bad OLAB_THREADS is one error line before any work; a good one is accepted", arguments: ["abc", "0", "-3", "99999", "4x"])
    func badThreadCount(value: String) throws {
        let result = try runOlab(["eval", "--checkpoint", "/nonexistent.safetensors"], environment: ["OLAB_THREADS": value])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: OLAB_THREADS must be "), "\(result.err)")
        let good = try runOlab(["eval", "--checkpoint", "/nonexistent.safetensors"], environment: ["OLAB_THREADS": "2"])
        #expect(good.err == "error: /nonexistent.safetensors: no such checkpoint file\n")
    }

    @Test("out-of-range JSON numbers are refused, not clamped, and NUL bytes in config strings are refused", arguments: [
        (#"{"steps": 99999999999999999999}"#, "integer 99999999999999999999 at byte 10 is out of range"),
        (#"{"width": -99999999999999999999}"#, "integer -99999999999999999999 at byte 10 is out of range"),
        (#"{"seed": 18446744073709551615}"#, "integer 18446744073709551615 at byte 9 is out of range"),
        (#"{"lr": 1e999}"#, "number 1e999 at byte 7 is out of range"),
        (#"{"corpus": "runs\u0000/../etc"}"#, "corpus must not contain a NUL byte"),
        (#"{"optimizer": "adamw\u0000soap"}"#, "optimizer must not contain a NUL byte"),
    ])
    func exactNumbersAndStrings(text: String, expected: String) throws {
        do {
            _ = try TrainingConfig(json: try JSONValue.parse(text, source: "c.json"), source: "c.json")
            Issue.record("expected \(text) to be refused")
        } catch let error as OutlierLabError {
            #expect(error.message == "c.json: " + expected || error.message.hasPrefix("c.json: " + expected), "\(error.message)")
        }
        // Numbers json-c would keep exactly still parse.
        #expect(try JSONValue.parse("[9223372036854775807, -9223372036854775808, 1e308, 1e-400, \"99999999999999999999\"]").arrayValue?.count == 5)
    }

    @Test("a result that cannot be written (/dev/full) is one error line and exit 2, not exit 0 and an empty file", arguments: ["eval", "metrics"])
    func fullStandardOutput(command: String) throws {
        let checkpoint = try Self.trainedCheckpoint("full-\(command)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: olabExecutable)
        process.arguments = [command, "--checkpoint", checkpoint]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(text == "error: cannot write the result to standard output: No space left on device\n")
    }

    @Test("an error line is bounded and escapes control characters, whatever the size of the value it quotes")
    func boundedErrorLine() throws {
        let directory = try scratchDirectory("long-error")
        let value = String(repeating: "x\\u001b[2J\\n", count: 500_000)  // 5.5 MB of JSON, with escapes and newlines
        try AtomicFile.write("{\"block\": \"\(value)\"}", to: directory + "/config.json")
        let result = try runOlab(["train", "--config", directory + "/config.json", "--out", directory + "/run"])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: \(directory)/config.json: block must be one of"), "\(result.err.prefix(200))")
        #expect(result.err.utf8.count < 2200, "\(result.err.utf8.count) bytes")
        #expect(result.err.split(separator: "\n").count == 1 && !result.err.utf8.contains(0x1B))
        #expect(result.err.hasSuffix(" bytes in all)\n"))
        #expect(!FilePath.exists(directory + "/run"))
    }
}
