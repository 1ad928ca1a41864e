import Foundation
@testable import OLCore
@testable import OLTraining

/// A fresh scratch directory under /tmp for one test.
func scratchDirectory(_ label: String) throws -> String {
    let path = "/tmp/olab-test-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))"
    try FilePath.makeDirectories(path)
    return path
}

/// A tiny, fast configuration: trains in well under a second in release mode.
func tinyConfig(block: String = "preLN", optimizer: String = "adamw", steps: Int = 40) throws -> TrainingConfig {
    try TrainingConfig(json: .object([
        "block": .string(block), "width": 32, "layers": 2, "heads": 4, "seq": 32, "batch": 8,
        "steps": .int(Int64(steps)), "log_every": 10, "checkpoint_every": 10, "eval_windows": 8, "probe_batch": 2,
        "optimizer": .string(optimizer), "synthetic_bytes": 200_000, "seed": 7,
    ]))
}

/// metrics.jsonl without its wall-clock field (tokens_per_s), for byte comparisons between runs.
func metricsWithoutWallClock(_ directory: String) throws -> [String] {
    try FileBytes.readText(directory + "/metrics.jsonl").split(separator: "\n").map { line in
        let record = try JSONValue.parse(String(line))
        return JSONValue.object(record.objectMembers!.filter { $0.key != "tokens_per_s" }).serialized()
    }
}

/// The `olab` executable built next to the test bundle.
var olabExecutable: String {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("olab").path), directory.path != "/" {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("olab").path
}

/// Runs `olab` with arguments, and `environment` changes on top of this process's environment
/// (nil removes a variable), in `directory` (default: this process's working directory); returns exit
/// status, stdout and stderr.
@discardableResult
func runOlab(_ arguments: [String], environment: [String: String?] = [:], directory: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: olabExecutable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    if !environment.isEmpty {
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value ?? nil }
        process.environment = merged
    }
    return try runToCompletion(process)
}

/// Runs `process` and returns its exit status, stdout and stderr.
func runToCompletion(_ process: Process) throws -> (status: Int32, out: String, err: String) {
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
