import Foundation
import OLCore

/// Settings of the Slurm backend (`--backend slurm`).
public struct SlurmOptions: Sendable, Equatable {
    public var partition: String?
    public var account: String?
    /// `--time` of each array task, in any form sbatch accepts ("30", "1:00:00", "1-00:00:00").
    public var timeLimit: String?
    /// `--cpus-per-task`; each task runs with that many OutlierLab threads.
    public var cpusPerTask: Int
    /// Further `sbatch` arguments, passed as given (e.g. `--qos=short`, `--mem=4G`).
    public var extraArguments: [String]
    /// Return right after submitting; `--collect` assembles later.
    public var submitOnly: Bool
    /// Seconds between `squeue` polls while waiting.
    public var pollSeconds: Double

    public init(partition: String? = nil, account: String? = nil, timeLimit: String? = nil, cpusPerTask: Int = 1,
                extraArguments: [String] = [], submitOnly: Bool = false, pollSeconds: Double = 5) {
        self.partition = partition
        self.account = account
        self.timeLimit = timeLimit
        self.cpusPerTask = cpusPerTask
        self.extraArguments = extraArguments
        self.submitOnly = submitOnly
        self.pollSeconds = pollSeconds
    }
}

/// The Slurm backend: one job array per submission, one array task per missing run. The script and
/// the task list live under `<out>/slurm/`; each task runs `olab run-task` (by absolute path: the nodes
/// must see the same `olab` and the same output folder, a shared filesystem) on its run's spec, so tasks
/// write only into the shared run cache, each run under its own lock. Progress comes from the cache
/// (runs done) and `squeue` (tasks pending and running); a task that ends without a result is reported
/// by run and resubmitted by the next call, while finished runs are never recomputed.
struct SlurmArray {
    var scheduler: RunScheduler
    var options: SlurmOptions

    var slurmDirectory: String { FilePath.directory(of: scheduler.runs) + "/slurm" }
    var stateFile: String { slurmDirectory + "/submissions.json" }

    /// Submits one job array for those of `tasks` that no earlier submission still has queued, records
    /// it, and returns the ids of every job the tasks now wait on.
    func submit(_ tasks: [RunTask]) throws -> [String] {
        let queued = try queuedKeys()
        let waiting = Set(tasks.compactMap { queued[$0.spec.key] })
        let fresh = tasks.filter { queued[$0.spec.key] == nil }
        if !waiting.isEmpty {
            scheduler.say("[\(scheduler.name)] \(tasks.count - fresh.count) run(s) are still queued in Slurm job(s) \(waiting.sorted().joined(separator: ", ")); not submitting them again")
        }
        guard !fresh.isEmpty else { return waiting.sorted() }
        try FilePath.makeDirectories(slurmDirectory)
        let stamp = String(Int(Date().timeIntervalSince1970 * 1000))
        let taskList = slurmDirectory + "/tasks-\(stamp).txt"
        let script = slurmDirectory + "/array-\(stamp).sh"
        try AtomicFile.write(fresh.map { RunSpec.specPath($0.spec.key, in: scheduler.runs) + "\n" }.joined(), to: taskList)
        try AtomicFile.write(scriptText(taskCount: fresh.count, taskList: taskList), to: script)
        chmod(script, 0o755)
        let submitted = try Self.command("sbatch", ["--parsable"] + options.extraArguments + [script])
        guard submitted.status == 0 else {
            throw OutlierLabError("sbatch failed (exit \(submitted.status)): \(submitted.output.trimmingWhitespace)")
        }
        let job = String(submitted.output.trimmingWhitespace.split(separator: ";").first ?? "")
        guard !job.isEmpty, job.allSatisfy(\.isNumber) else {
            throw OutlierLabError("sbatch printed no job id: \(submitted.output.trimmingWhitespace)")
        }
        var submissions = try recordedSubmissions()
        submissions.append((job, fresh.map(\.spec.key)))
        try AtomicFile.write(JSONValue.object(["submissions": .array(submissions.map { submission in
            .object(["job": .string(submission.job), "keys": .array(submission.keys.map(JSONValue.string))])
        })]).serialized(pretty: true) + "\n", to: stateFile)
        scheduler.say("[\(scheduler.name)] submitted Slurm job array \(job): \(fresh.count) task(s), script \(script)")
        return (waiting.union([job])).sorted()
    }

    /// The sbatch script: every option on `#SBATCH` lines, the task's spec picked from the task list by
    /// `SLURM_ARRAY_TASK_ID`.
    func scriptText(taskCount: Int, taskList: String) -> String {
        var lines = [
            "#!/bin/bash",
            "# Written by olab \(scheduler.name): one array task per run; each runs `olab run-task` on one spec.",
            "#SBATCH --job-name=olab-\(scheduler.name)",
            "#SBATCH --array=0-\(taskCount - 1)",
            "#SBATCH --cpus-per-task=\(options.cpusPerTask)",
            "#SBATCH --output=\(slurmDirectory)/%A_%a.out",
        ]
        if let partition = options.partition { lines.append("#SBATCH --partition=\(partition)") }
        if let account = options.account { lines.append("#SBATCH --account=\(account)") }
        if let time = options.timeLimit { lines.append("#SBATCH --time=\(time)") }
        lines += [
            "set -euo pipefail",
            "spec=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" \(shellQuoted(taskList)))",
            "export OLAB_THREADS=\"${SLURM_CPUS_PER_TASK:-\(options.cpusPerTask)}\"",
            "exec \(shellQuoted(scheduler.executable)) run-task \"$spec\"",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Polls until `jobs` have no task left in the queue, printing a line whenever the count of finished
    /// runs or of pending and running tasks changes.
    func wait(for jobs: [String], tasks: [RunTask]) throws {
        var last = ""
        while true {
            var pending = 0, running = 0
            for job in jobs {
                for state in try queuedTasks(job).values {
                    if state == "PENDING" || state == "CONFIGURING" { pending += 1 } else { running += 1 }
                }
            }
            let done = tasks.filter { RunExecution.isDone($0.spec, runs: scheduler.runs) }.count
            let line = "[\(scheduler.name)] Slurm job(s) \(jobs.joined(separator: ", ")): \(done)/\(tasks.count) runs done, \(running) running, \(pending) pending"
            if line != last { scheduler.say(line); last = line }
            if pending + running == 0 { return }
            usleep(useconds_t(options.pollSeconds * 1e6))
        }
    }

    /// Why each of `tasks` has no result: still queued in a job, or how its array task ended.
    func reasons(_ tasks: [RunTask]) throws -> [(task: RunTask, reason: String)] {
        let queued = try queuedKeys()
        var ended: [String: String] = [:]
        for submission in try recordedSubmissions() {
            for (key, state) in taskStates(submission) { ended[key] = state }
        }
        return tasks.map { task in
            if let job = queued[task.spec.key] { return (task, "still queued or running in Slurm job \(job)") }
            let state = ended[task.spec.key].map { "its array task ended \($0)" }
                ?? "its array task ended without a result (Slurm keeps no record of it: cancelled while pending, or purged)"
            return (task, "\(state) (output in \(slurmDirectory)/); the next call without --collect resubmits it")
        }
    }

    /// Every recorded submission: job id and the run key of each array task, in task order.
    private func recordedSubmissions() throws -> [(job: String, keys: [String])] {
        guard FilePath.exists(stateFile) else { return [] }
        let state = try JSONValue.parse(bytes: try FileBytes.read(stateFile), source: stateFile)
        return (state["submissions"]?.arrayValue ?? []).compactMap { submission in
            guard let job = submission["job"]?.stringValue, let keys = submission["keys"]?.arrayValue?.compactMap(\.stringValue) else { return nil }
            return (job, keys)
        }
    }

    /// Run key → job id of every recorded array task still pending or running.
    private func queuedKeys() throws -> [String: String] {
        var result: [String: String] = [:]
        for submission in try recordedSubmissions() {
            for task in try queuedTasks(submission.job).keys where task < submission.keys.count {
                result[submission.keys[task]] = submission.job
            }
        }
        return result
    }

    /// Final states of a submission's array tasks by run key, from `scontrol` while Slurm still knows the
    /// job (empty when it does not).
    private func taskStates(_ submission: (job: String, keys: [String])) -> [String: String] {
        guard let shown = try? Self.command("scontrol", ["-o", "show", "job", submission.job]), shown.status == 0 else { return [:] }
        var result: [String: String] = [:]
        for line in shown.output.split(separator: "\n") {
            let fields = Dictionary(line.split(separator: " ").compactMap { field -> (String, String)? in
                guard let eq = field.firstIndex(of: "=") else { return nil }
                return (String(field[..<eq]), String(field[field.index(after: eq)...]))
            }, uniquingKeysWith: { first, _ in first })
            if let id = fields["ArrayTaskId"].flatMap(Int.init), id < submission.keys.count, let jobState = fields["JobState"] {
                result[submission.keys[id]] = jobState
            }
        }
        return result
    }

    /// Array task id → state of the tasks of `job` still in the queue, according to `squeue`.
    private func queuedTasks(_ job: String) throws -> [Int: String] {
        let queue = try Self.command("squeue", ["-h", "-r", "-j", job, "-o", "%K %T"])
        // squeue exits non-zero for a job id it no longer knows: the job is gone.
        guard queue.status == 0 else { return [:] }
        var result: [Int: String] = [:]
        for line in queue.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let id = Int(parts[0]) { result[id] = String(parts[1]) }
        }
        return result
    }

    /// Runs a Slurm client command found on PATH; returns its exit status and combined output.
    static func command(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw OutlierLabError("cannot run \(name): \(error.localizedDescription) (is Slurm installed and on PATH?)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 127 { throw OutlierLabError("\(name) was not found on PATH (is Slurm installed?)") }
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// `text` in single quotes for a shell script.
func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

extension StringProtocol {
    var trimmingWhitespace: String { String(self).trimmingCharacters(in: .whitespacesAndNewlines) }
}
