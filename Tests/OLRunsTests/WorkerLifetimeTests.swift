import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLRuns

/// Worker processes of the local backend end with the `olab sweep` or `olab audit` that started them,
/// however it ends, and leave nothing cached for the run they were training.
@Suite("Local workers die with their parent", .serialized)
struct WorkerLifetimeTests {
    /// The pids of the children of `pid` (every thread's, from /proc).
    static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Whether `pid` still runs (a zombie waiting for a reaper has ended).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Polls `condition` every 50 ms for up to `seconds`; whether it became true.
    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while monotonicSeconds() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    @Test("a sweep killed mid-run takes its worker with it, and the run is resumable, not cached as failed",
          arguments: [SIGKILL, SIGTERM, SIGHUP])
    func workerEndsWithSweep(signal: Int32) throws {
        let scratch = try scratchDirectory("worker-lifetime")
        // One run long enough (tens of seconds) to be mid-training when the sweep is killed.
        let grid = scratch + "/grid.json"
        try AtomicFile.write("""
            { "base": { "width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 200000, "log_every": 1000,
                        "checkpoint_every": 500, "synthetic_bytes": 65536, "eval_windows": 4, "probe_batch": 2 },
              "axes": { "block": ["preLN"] }, "seeds": [0] }
            """, to: grid)
        let sweep = Process()
        sweep.executableURL = URL(fileURLWithPath: olabExecutable)
        sweep.arguments = ["sweep", grid, "--out", scratch + "/out", "--jobs", "1"]
        sweep.standardInput = FileHandle.nullDevice
        sweep.standardOutput = FileHandle.nullDevice
        sweep.standardError = FileHandle.nullDevice
        try sweep.run()
        let sweepPid = sweep.processIdentifier
        var worker: Int32?
        // 30 s: the sweep plans one run and starts its worker in well under a second on an idle machine.
        let started = Self.waitFor(30) {
            worker = Self.children(of: sweepPid).first
            return worker != nil
        }
        guard started, let worker else {
            kill(sweepPid, SIGKILL)
            sweep.waitUntilExit()
            Issue.record("the sweep started no worker within 30 s")
            return
        }
        defer { if Self.isRunning(worker) { kill(worker, SIGKILL) } }
        // Let the worker get into training (its first checkpoint comes at step 500, about a second).
        let runs = scratch + "/out/runs"
        _ = Self.waitFor(30) {
            let logs = ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).filter { $0.hasSuffix(".log") }
            return logs.contains { ((try? String(contentsOfFile: runs + "/" + $0, encoding: .utf8)) ?? "").contains("training") }
        }
        kill(sweepPid, signal)
        sweep.waitUntilExit()
        // 10 s: the worker's watch thread reads end-of-file as soon as the kernel closes the sweep's
        // descriptors; seconds leave room for a loaded CI machine, and a missed exit would run for minutes.
        #expect(Self.waitFor(10) { !Self.isRunning(worker) }, "worker \(worker) outlived its sweep (ended by signal \(signal))")
        let directories = ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).filter { !$0.contains(".") }
        #expect(directories.count == 1, "one run directory: \(directories)")
        for directory in directories {
            #expect(!FilePath.exists(runs + "/" + directory + "/" + RunExecution.failureName), "the killed run is not cached as failed")
            #expect(!FilePath.exists(runs + "/" + directory + "/model.safetensors"), "the run did not finish")
        }
        let log = ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).filter { $0.hasSuffix(".log") }
            .map { (try? String(contentsOfFile: runs + "/" + $0, encoding: .utf8)) ?? "" }.joined()
        #expect(log.contains("has ended; stopping this worker"), "the worker says why it stopped: \(log.suffix(400))")
    }

    @Test("a worker without the parent-pipe setting ignores end-of-file on its standard input")
    func noWatchWithoutTheSetting() throws {
        // The watch must not start for Slurm tasks or a user's run-task, whose stdin is /dev/null.
        // A started watch would read this test process's stdin and, at its end, SIGKILL the test runner;
        // the announcement records it first, so a regression fails here rather than silently.
        for environment in [[:], [ParentWatch.environmentKey: "no"], [ParentWatch.environmentKey: ""]] {
            ParentWatch.startIfRequested(environment: environment) { line in
                Issue.record("the watch started without the setting: \(line)")
            }
        }
        usleep(100_000)
    }

    @Test("a parent pipe's ends are close-on-exec, so no other child inherits the writer")
    func pipeIsCloseOnExec() throws {
        let pipe = try ParentWatch.parentPipe()
        for handle in [pipe.read, pipe.write] {
            let flags = fcntl(handle.fileDescriptor, F_GETFD)
            #expect(flags >= 0 && flags & FD_CLOEXEC != 0, "fd \(handle.fileDescriptor) flags \(flags)")
        }
        // A child started now holds neither end: its descriptors do not name the pipe's inode.
        var status = stat()
        #expect(fstat(pipe.write.fileDescriptor, &status) == 0)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "ls -l /proc/$$/fd"]
        let out = Pipe()
        child.standardOutput = out
        try child.run()
        let listed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(!listed.contains(":[\(status.st_ino)]"), "the child inherited the parent pipe: \(listed)")
    }
}
