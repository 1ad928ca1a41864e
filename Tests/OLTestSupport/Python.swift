import Foundation

/// The Python the interop tests use: `OLAB_INTEROP_PYTHON` (`make verify` points it at the virtual
/// environment `make deps-test` makes, with PyPI's safetensors and NumPy), else the `python3` on PATH.
public let interopPython: String = ProcessInfo.processInfo.environment["OLAB_INTEROP_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"

/// Whether `interopPython` imports `safetensors.numpy` and NumPy; tests that check our files in
/// Python are skipped with one line otherwise.
public let pythonHasSafetensors: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [interopPython, "-c", "import safetensors.numpy, numpy"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

/// Runs a Python snippet with arguments, by default with `interopPython` (pass "/usr/bin/python3" for
/// Debian's, standard library only); returns its exit status and combined output.
public func runPython(_ script: String, arguments: [String], python: String = interopPython) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
