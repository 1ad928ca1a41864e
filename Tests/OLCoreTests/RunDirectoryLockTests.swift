import Foundation
import OLCore
import OLTestSupport
import Testing

/// A run's lock belongs to the process that took it: a child it starts (a worker, git, python) never
/// holds it, so the directory is free the moment the owner releases it.
@Suite("run directory locks and child processes")
struct RunDirectoryLockTests {
    @Test("a child process started while the lock is held neither inherits its descriptor nor keeps it locked")
    func childDoesNotHoldTheLock() throws {
        let directory = try scratchDirectory("lock")
        let lock = try RunDirectoryLock(directory: directory)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { child.terminate(); child.waitUntilExit() }

        // The child's open descriptors, as the kernel lists them: none is the lock file.
        let lockPath = directory + "/" + RunDirectoryLock.fileName
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.processIdentifier)/fd")) ?? []
        let targets = descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.processIdentifier)/fd/\($0)") }
        #expect(!targets.contains(lockPath), "child \(child.processIdentifier) holds \(lockPath) open: \(targets)")

        lock.release()
        // Another owner gets the lock at once while the child is still running.
        let again = try RunDirectoryLock(directory: directory)
        again.release()
        #expect(child.isRunning, "the child must still be alive for this check to mean anything")
    }
}
