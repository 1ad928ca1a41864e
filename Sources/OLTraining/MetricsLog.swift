import OLCore

/// `metrics.jsonl`: one JSON object per logged step, appended as whole lines. Opening it for a resumed
/// run first checks it against the checkpoint (`resuming`), so the file always holds exactly one line
/// per logged step, in order.
final class MetricsLog {
    let path: String
    private let fd: Int32

    /// A new, empty log.
    convenience init(path: String) throws {
        try AtomicFile.write("", to: path)
        try self.init(opening: path)
    }

    private init(opening path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw OutlierLabError("cannot open \(path): \(errnoText())") }
    }

    /// The log of a run resumed at `checkpointStep`, whose lines should be exactly `loggedSteps` (the
    /// steps through the checkpoint that the run logs, in order). Keeps the first valid line of each
    /// expected step and drops the rest: lines past the checkpoint (a run killed between a log line and
    /// its next checkpoint; they are logged again), repeated steps, corrupt lines and steps the run never
    /// logs. Returns one note per kind of problem found, naming the line numbers; steps with no line are
    /// reported as a gap, since the model that logged them no longer exists.
    static func resuming(path: String, checkpointStep: Int, loggedSteps: [Int]) throws -> (log: MetricsLog, notes: [String]) {
        let text = FilePath.exists(path) ? try FileBytes.readText(path) : ""
        let expected = Set(loggedSteps)
        var kept: [Int: Substring] = [:]
        var past: [Int] = [], repeated: [Int] = [], corrupt: [Int] = [], unexpected: [Int] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let record = try? JSONValue.parse(String(line), source: path), let step = record["step"]?.intValue else {
                corrupt.append(lineNumber)
                continue
            }
            if step > checkpointStep {
                past.append(lineNumber)
            } else if !expected.contains(step) {
                unexpected.append(lineNumber)
            } else if kept[step] != nil {
                repeated.append(lineNumber)
            } else {
                kept[step] = line
            }
        }
        let missing = loggedSteps.filter { kept[$0] == nil }
        var notes: [String] = []
        func lines(_ numbers: [Int]) -> String {
            (numbers.count == 1 ? "line " : "lines ") + numbers.prefix(8).map(String.init).joined(separator: ", ") + (numbers.count > 8 ? ", …" : "")
        }
        if !past.isEmpty { notes.append("\(path): dropped \(lines(past)), logged after the checkpoint's step \(checkpointStep); they are logged again") }
        if !repeated.isEmpty { notes.append("\(path): dropped \(lines(repeated)), repeating a step already logged") }
        if !corrupt.isEmpty { notes.append("\(path): dropped \(lines(corrupt)), not a JSON object with an integer step") }
        if !unexpected.isEmpty { notes.append("\(path): dropped \(lines(unexpected)), for steps this run does not log") }
        if !missing.isEmpty {
            let steps = missing.prefix(8).map(String.init).joined(separator: ", ") + (missing.count > 8 ? ", …" : "")
            notes.append("\(path): no line for step\(missing.count == 1 ? "" : "s") \(steps) before the checkpoint's step \(checkpointStep); that gap cannot be refilled")
        }
        if !notes.isEmpty || text.last.map({ $0 != "\n" }) == true {
            try AtomicFile.write(loggedSteps.compactMap { kept[$0].map { $0 + "\n" } }.joined(), to: path)
        } else if !FilePath.exists(path) {
            try AtomicFile.write("", to: path)
        }
        return (try MetricsLog(opening: path), notes)
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
