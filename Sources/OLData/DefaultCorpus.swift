import Foundation
import OLCore

/// The real text used when no `--corpus` is given (<doc:Data>): the Python standard library found on this
/// machine, the nearest local stand-in for the paper's CodeParrot Python, with the synthetic corpus as the
/// stated fallback.
public enum DefaultCorpus {
    /// The standard library's `.py` files, without its test suites, installed packages and caches.
    public static let pythonFilter = CorpusFilter(
        suffix: ".py",
        excludedDirectoryNames: ["test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"]
    )

    /// The Python standard-library directory (`os.path.dirname(os.__file__)` of the first `python3` on PATH),
    /// or nil when there is no `python3` or it fails or names a non-directory.
    public static func pythonStandardLibraryPath() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os; print(os.path.dirname(os.__file__))"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return !path.isEmpty && FilePath.isDirectory(path) ? path : nil
    }

    /// The Python standard library as a corpus, or the synthetic corpus for `seed` if none is found or it
    /// cannot be read. `source` in the summary says which one was used.
    public static func load(seed: UInt64, trainFraction: Double = 0.95) throws -> ByteCorpus {
        if let path = pythonStandardLibraryPath(),
           let corpus = try? ByteCorpus(path: path, filter: pythonFilter, trainFraction: trainFraction)
        {
            return corpus
        }
        return try SyntheticCorpus.corpus(seed: seed, trainFraction: trainFraction)
    }
}
