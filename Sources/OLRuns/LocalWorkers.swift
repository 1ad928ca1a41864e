import Foundation
import OLCore

/// The local backend: up to `jobs` `olab run-task SPEC` worker processes at once, biggest runs first,
/// each with `threadsPerJob` OutlierLab threads (`OLAB_THREADS`) and its output in `<runs>/<key>.log`.
/// A worker that exits non-zero (killed, crashed) is reported by run; its run is not done, so the next
/// audit or sweep executes it again (resuming from its last checkpoint). Workers end with this process:
/// each watches a pipe on its standard input that only this process writes (`ParentWatch`).
struct LocalWorkers {
    var scheduler: RunScheduler
    var jobs: Int
    var threadsPerJob: Int

    private final class Finished: @unchecked Sendable {
        let condition = NSCondition()
        var indices: [Int] = []
    }

    func execute(_ tasks: [RunTask]) throws {
        let order = tasks.indices.sorted { tasks[$0].estimatedSeconds > tasks[$1].estimatedSeconds || (tasks[$0].estimatedSeconds == tasks[$1].estimatedSeconds && $0 < $1) }
        var progress = ProgressEstimate(total: tasks.count, remainingSeconds: tasks.reduce(0) { $0 + $1.estimatedSeconds }, jobs: jobs)
        let finished = Finished()
        var running: [Int: (process: Process, started: Double, parentPipe: FileHandle)] = [:]
        var next = 0
        scheduler.say("[\(scheduler.name)] \(jobs) worker process(es) with \(threadsPerJob) thread(s) each")
        while next < order.count || !running.isEmpty {
            while running.count < jobs, next < order.count {
                let index = order[next]
                next += 1
                let (process, parentPipe) = try start(tasks[index], index: index, finished: finished)
                running[index] = (process, monotonicSeconds(), parentPipe)
            }
            finished.condition.lock()
            while finished.indices.isEmpty { finished.condition.wait() }
            let done = finished.indices
            finished.indices.removeAll()
            finished.condition.unlock()
            for index in done {
                guard let (process, started, parentPipe) = running.removeValue(forKey: index) else { continue }
                try? parentPipe.close()
                let task = tasks[index], seconds = monotonicSeconds() - started
                progress.finished(estimated: task.estimatedSeconds, actual: seconds)
                let status = process.terminationReason == .uncaughtSignal ? "killed by signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)"
                let result = process.terminationReason == .exit && process.terminationStatus == 0
                    ? (RunExecution.isDone(task.spec, runs: scheduler.runs) ? "done" : "ended without a result")
                    : "FAILED (\(status); log: \(scheduler.logPath(task.spec.key)))"
                let left = tasks.count - progress.done
                scheduler.say("[\(scheduler.name)] \(progress.done)/\(tasks.count) \(task.spec.key.prefix(12)) (\(task.spec.label)): \(result) in \(NumberText.duration(seconds)); \(left) left, ETA \(NumberText.duration(progress.secondsLeft()))")
            }
        }
    }

    /// Starts the worker of `task`; returns it and the write end of its parent pipe, kept open until it ends.
    private func start(_ task: RunTask, index: Int, finished: Finished) throws -> (Process, FileHandle) {
        let logPath = scheduler.logPath(task.spec.key)
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
              let log = FileHandle(forWritingAtPath: logPath) else {
            throw OutlierLabError("cannot write the worker log \(logPath): \(errnoText())")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: scheduler.executable)
        process.arguments = ["run-task", RunSpec.specPath(task.spec.key, in: scheduler.runs)]
        var environment = ProcessInfo.processInfo.environment
        environment["OLAB_THREADS"] = String(threadsPerJob)
        environment[ParentWatch.environmentKey] = "stdin"
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        let parentPipe = try ParentWatch.parentPipe()
        process.standardInput = parentPipe.read
        process.terminationHandler = { _ in
            try? log.close()
            finished.condition.lock()
            finished.indices.append(index)
            finished.condition.signal()
            finished.condition.unlock()
        }
        do {
            try process.run()
        } catch {
            throw OutlierLabError("cannot start \(scheduler.executable): \(error.localizedDescription)")
        }
        try? parentPipe.read.close()  // the worker has its copy
        return (process, parentPipe.write)
    }
}
