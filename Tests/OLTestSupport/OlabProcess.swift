import Foundation

/// The `olab` executable built next to the test bundle.
public var olabExecutable: String {
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
public func runOlab(_ arguments: [String], environment: [String: String?] = [:], directory: String? = nil) throws -> (status: Int32, out: String, err: String) {
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
public func runToCompletion(_ process: Process) throws -> (status: Int32, out: String, err: String) {
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
