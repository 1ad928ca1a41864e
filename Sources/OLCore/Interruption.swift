import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Graceful stop on SIGINT / SIGTERM: the handler only records the signal; long-running loops (training,
/// the audit) poll `requested` between steps, write a checkpoint and return. A second signal of the
/// same kind falls back to the default action, so a stuck process can still be stopped with Ctrl-C twice,
/// except inside `deferringSecondSignal` (a checkpoint write): there it is held until the write is done,
/// then acted on, so a second Ctrl-C still ends the process but never between a checkpoint's bytes.
public enum Interruption {
    private static let signalNumber = Atomic<Int32>(0)
    fileprivate static let deferring = Atomic<Bool>(false)
    fileprivate static let heldSignal = Atomic<Int32>(0)

    /// Runs `body` with a second SIGINT/SIGTERM held back; a held signal takes its default action (the
    /// process ends with it) as soon as `body` returns or throws.
    public static func deferringSecondSignal<R>(_ body: () throws -> R) rethrows -> R {
        deferring.store(true, ordering: .sequentiallyConsistent)
        defer {
            deferring.store(false, ordering: .sequentiallyConsistent)
            let held = heldSignal.exchange(0, ordering: .sequentiallyConsistent)
            if held != 0 {
                signal(held, SIG_DFL)
                raise(held)
            } else if let first = requested {
                signal(first, SIG_DFL)  // what the handler would have done outside the section
            }
        }
        return try body()
    }

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
    if Interruption.requested != nil && Interruption.deferring.load(ordering: .sequentiallyConsistent) {
        Interruption.heldSignal.store(number, ordering: .sequentiallyConsistent)
        return
    }
    Interruption.record(number)
    // Inside a deferred section the handler stays, so a second signal is held rather than fatal.
    if !Interruption.deferring.load(ordering: .sequentiallyConsistent) { signal(number, SIG_DFL) }
}
