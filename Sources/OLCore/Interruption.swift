import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Graceful stop on SIGINT / SIGTERM: the handler only records the signal; long-running loops (training,
/// the audit) poll `requested` between steps, write a checkpoint and return. A second signal of the
/// same kind falls back to the default action, so a stuck process can still be stopped with Ctrl-C twice.
public enum Interruption {
    private static let signalNumber = Atomic<Int32>(0)

    /// Installs the handlers (idempotent) and unblocks both signals: a process started by a parent that
    /// blocks them (test runners, some supervisors) inherits that mask and would otherwise never see them.
    public static func install() {
        signal(SIGINT, handleSignal)
        signal(SIGTERM, handleSignal)
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGINT)
        sigaddset(&mask, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    }

    /// The signal received, if any.
    public static var requested: Int32? {
        let value = signalNumber.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    /// The conventional exit status for a stop by `signal`: 128 + its number.
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    /// Forgets a received signal (tests).
    public static func reset() { signalNumber.store(0, ordering: .relaxed) }

    /// Records a request as if the signal had arrived (tests).
    public static func simulate(_ signal: Int32) { signalNumber.store(signal, ordering: .relaxed) }

    fileprivate static func record(_ signal: Int32) { signalNumber.store(signal, ordering: .relaxed) }
}

private func handleSignal(_ number: Int32) {
    Interruption.record(number)
    signal(number, SIG_DFL)
}
