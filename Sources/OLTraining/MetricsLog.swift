#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore

/// `metrics.jsonl`: one JSON object per logged step, appended as whole lines. Opening it for a resumed
/// run first drops every line logged after the checkpoint's step (a run killed between a log line and
/// its next checkpoint would otherwise log those steps twice), so the file always holds exactly one
/// line per logged step.
final class MetricsLog {
    let path: String
    private let fd: Int32

    init(path: String, keepingStepsThrough resumeStep: Int?) throws {
        self.path = path
        if let resumeStep {
            let text = FilePath.exists(path) ? try FileBytes.readText(path) : ""
            var kept: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                guard let step = (try? JSONValue.parse(String(line), source: path))?["step"]?.intValue else { continue }
                if step <= resumeStep { kept.append(line) }
            }
            try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: path)
        } else {
            try AtomicFile.write("", to: path)
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw OutlierLabError("cannot open \(path): \(errnoText())") }
    }

    deinit { close(fd) }

    /// Appends one line and flushes it to disk. A failed append (disk full, file size limit, I/O
    /// error) is undone: the file is cut back to its previous length, so it never ends in half a line.
    func append(_ record: JSONValue) throws {
        let bytes = Array((record.serialized() + "\n").utf8)
        let previousLength = lseek(fd, 0, SEEK_END)
        guard previousLength >= 0 else { throw OutlierLabError("cannot append to \(path): \(errnoText())") }
        var offset = 0
        var failure: String?
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = errnoText()
                break
            }
            offset += written
        }
        if failure == nil && fsync(fd) != 0 { failure = errnoText() }
        if let failure {
            _ = ftruncate(fd, previousLength)
            throw OutlierLabError("cannot append to \(path): \(failure); the lines already logged are kept")
        }
    }
}

/// Monotonic seconds, for throughput only (never stored in checkpoints).
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
