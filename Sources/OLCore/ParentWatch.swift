import Foundation
import OLPlatform

/// Worker processes that end with the process that started them.
///
/// A local backend starts each worker with its standard input on a pipe whose only writer is the parent
/// (`parentPipe()`: both ends close-on-exec, so no other child inherits the writer). The parent never
/// writes to it; when the parent ends, however it ends (SIGKILL included), the kernel closes the writer
/// and the worker's read returns end-of-file. The worker then ends at once with SIGKILL, the same way a
/// killed worker ends: nothing is cached for the run, its lock is released by the kernel, and the next
/// audit or sweep resumes it from its last checkpoint. (A graceful stop would record the interruption as
/// the run's outcome unless every layer learned to tell it apart; ending like a kill keeps one path.)
///
/// Why not `PR_SET_PDEATHSIG`: it fires when the parent *thread* that spawned the worker exits, which a
/// pool thread may do long before the parent process, and it does not exist on macOS.
public enum ParentWatch {
    /// Set by the parent to `stdin` in the worker's environment: the worker's standard input is the pipe.
    public static let environmentKey = "OLAB_PARENT_PIPE"

    /// A pipe for a worker's standard input (a connected socket pair, used one way): (read end for the
    /// child, write end the parent keeps open until the worker has ended). Both ends are close-on-exec from their creation, so a worker started
    /// concurrently by another thread never inherits this worker's writer (posix_spawn's dup2 onto the
    /// child's fd 0 clears the flag on that copy only).
    public static func parentPipe() throws -> (read: FileHandle, write: FileHandle) {
        // A socket pair rather than pipe(2): Glibc's Swift overlay has no pipe2, and only an atomic
        // close-on-exec closes the window in which another thread's spawn inherits the writer.
        var fds: [Int32] = [-1, -1]
        #if os(Linux)
        let status = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        #else
        let status = socketpair(AF_UNIX, SOCK_STREAM, 0, &fds)
        if status == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        #endif
        guard status == 0 else { throw OutlierLabError("cannot create the parent pipe of a worker process: \(errnoText())") }
        return (FileHandle(fileDescriptor: fds[0], closeOnDealloc: true), FileHandle(fileDescriptor: fds[1], closeOnDealloc: true))
    }

    /// In a worker started with `environmentKey` = `stdin`: starts a thread that waits for end-of-file on
    /// standard input and then says why and ends the process with SIGKILL. Does nothing otherwise (a
    /// Slurm task's or a user's standard input is not a parent pipe).
    public static func startIfRequested(environment: [String: String] = ProcessInfo.processInfo.environment,
                                        announce: @escaping @Sendable (String) -> Void) {
        guard environment[environmentKey] == "stdin" else { return }
        let parent = getppid()
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let count = read(0, &byte, 1)
                if count > 0 { continue }  // the parent never writes; a stray byte is not its end
                if count < 0 && errno == EINTR { continue }
                break
            }
            announce("the parent process \(parent) has ended; stopping this worker (the run resumes from its last checkpoint)")
            kill(getpid(), SIGKILL)
        }
    }
}
