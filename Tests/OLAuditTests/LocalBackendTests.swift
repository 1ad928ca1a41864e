import Foundation
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns

/// `olab audit` and `olab sweep` on the local backend, as a user runs them: worker processes at once
/// must give exactly the files one worker gives, and a second call must be served from the cache.
@Suite("Local backend: audits and sweeps on worker processes", .serialized)
struct LocalBackendTests {
    /// The tiny registry and grid the Slurm backend test uses too.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Slurm").path

    /// report.json without its wall-clock fields and the worker count each run happened to use (run
    /// summaries record it; it never changes a result).
    static func reportWithoutWallClock(_ directory: String) throws -> String {
        func strip(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let members): .object(members.filter { !["wall_time_s", "runs_wall_time_s", "tokens_per_s", "workers"].contains($0.key) }.map { JSONMember($0.key, strip($0.value)) })
            case .array(let items): .array(items.map(strip))
            default: value
            }
        }
        return strip(try JSONValue.parse(try FileBytes.readText(directory + "/report.json"))).serialized(pretty: true)
    }

    @Test("an audit on two worker processes writes the report one worker writes, and a rerun trains nothing")
    func auditJobs() throws {
        let scratch = try scratchDirectory("audit-jobs")
        let arguments = ["audit", "--registry", Self.fixtures + "/tiny-claims.json", "--corpus", "synthetic"]
        let two = try runOlab(arguments + ["--out", scratch + "/two", "--jobs", "2"])
        try #require(two.status == 0, "\(two.err)")
        #expect(two.out.contains("2 worker process(es) with 1 thread(s) each"), "\(two.out)")
        #expect(two.out.contains("6/6") && two.out.contains("ETA"), "one progress line per finished run, with an ETA")
        let one = try runOlab(arguments + ["--out", scratch + "/one", "--jobs", "1"])
        try #require(one.status == 0, "\(one.err)")
        expectSameLines(try Self.reportWithoutWallClock(scratch + "/two").components(separatedBy: "\n"),
                        try Self.reportWithoutWallClock(scratch + "/one").components(separatedBy: "\n"), "report.json, 2 jobs against 1")
        let again = try runOlab(arguments + ["--out", scratch + "/two", "--jobs", "2"])
        #expect(again.status == 0 && again.out.contains("all 6 runs are in the cache"), "\(again.out)")
    }

    @Test("a sweep of 2 axes × 2 values × 2 seeds gives the same results.csv on one and on two workers")
    func sweepJobs() throws {
        let scratch = try scratchDirectory("sweep-jobs")
        let grid = Self.fixtures + "/tiny-grid.json"
        let two = try runOlab(["sweep", grid, "--out", scratch + "/two", "--jobs", "2"])
        try #require(two.status == 0, "\(two.err)")
        let one = try runOlab(["sweep", grid, "--out", scratch + "/one", "--jobs", "1"])
        try #require(one.status == 0, "\(one.err)")
        try expectBitwiseEqual(FileBytes.read(scratch + "/two/results.csv"), FileBytes.read(scratch + "/one/results.csv"), "results.csv")
        try expectBitwiseEqual(FileBytes.read(scratch + "/two/results.jsonl"), FileBytes.read(scratch + "/one/results.jsonl"), "results.jsonl")
        #expect(try FileBytes.readText(scratch + "/two/results.csv").split(separator: "\n").count == 9)
    }

    @Test("a worker killed by a signal is reported by run, and the next call executes only that run")
    func killedWorker() throws {
        let scratch = try scratchDirectory("sweep-kill")
        let plan = try SweepPlan(grid: try SweepGrid.load(Self.fixtures + "/tiny-grid.json"))
        let victim = plan.tasks[5].spec
        // A worker executable that kills itself (SIGKILL) for one run and is the real olab for the others.
        let wrapper = scratch + "/worker.sh"
        try AtomicFile.write("#!/bin/sh\ncase \"$2\" in *\(victim.key)*) kill -9 $$ ;; esac\nexec \(olabExecutable) \"$@\"\n", to: wrapper)
        chmod(wrapper, 0o755)
        var lines: [String] = []
        let scheduler = RunScheduler(runs: scratch + "/runs", executable: wrapper, name: "sweep", say: { lines.append($0) })
        let first = try scheduler.execute(plan.tasks, on: .local(jobs: 2, threadsPerJob: 1))
        #expect(first.missing.map(\.task.spec.key) == [victim.key], "only the killed run is missing")
        #expect(lines.contains { $0.contains(victim.key.prefix(12)) && $0.contains("FAILED (killed by signal 9") }, "\(lines)")
        lines = []
        let real = RunScheduler(runs: scratch + "/runs", executable: olabExecutable, name: "sweep", say: { lines.append($0) })
        let second = try real.execute(plan.tasks, on: .local(jobs: 2, threadsPerJob: 1))
        #expect(second.missing.isEmpty && second.doneBefore.count == 7, "7 runs from the cache, the killed one executed again")
        #expect(lines.contains { $0.contains("1 of 8 runs to execute (7 from the cache)") }, "\(lines)")
    }

    @Test("backend flags that do not fit are refused with one line", arguments: [
        (["--backend", "cluster"], "--backend must be local or slurm"),
        (["--jobs", "0"], "--jobs must be a positive integer"),
        (["--backend", "slurm", "--jobs", "2"], "--jobs applies to --backend local"),
        (["--submit-only"], "--submit-only applies to --backend slurm"),
        (["--backend", "slurm", "--submit-only", "--collect"], "--submit-only and --collect exclude each other"),
    ])
    func badBackendFlags(arguments: [String], expected: String) throws {
        let result = try runOlab(["sweep", Self.fixtures + "/tiny-grid.json", "--out", try scratchDirectory("bad-backend")] + arguments)
        #expect(result.status != 0)
        #expect(result.err.contains(expected) && result.err.split(separator: "\n").count == 1, "\(result.err)")
    }
}
