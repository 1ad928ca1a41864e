import Synchronization
import OLPlatform

/// Graceful stop on SIGINT / SIGTERM: the handler only records the signal; long-running loops (training,
/// the audit) poll `requested` between steps, write a checkpoint and return. A second signal of the
/// same kind falls back to the default action, so a stuck process can still be stopped with Ctrl-C twice,
/// except inside `deferringSecondSignal` (a checkpoint write): there it is held until the write is done,
/// then acted on, so a second Ctrl-C still ends the process but never between a checkpoint's bytes.
public enum Interruption {
    /// The process's signal bookkeeping, driven by the installed handler.
    static let state = InterruptionState()

    /// Runs `body` with a second SIGINT/SIGTERM held back; a held signal takes its default action (the
    /// process ends with it) as soon as `body` returns or throws.
    public static func deferringSecondSignal<R>(_ body: () throws -> R) rethrows -> R {
        try state.deferringSecondSignal(body, restoreDefault: { signal($0, SIG_DFL) }, actOnHeld: { held in
            signal(held, SIG_DFL)
            raise(held)
        })
    }

    /// Installs the handlers (idempotent) and unblocks both signals: a process started by a parent that
    /// blocks them (test runners, some supervisors) inherits that mask and would otherwise never see them.
    public static func install() {
        signal(SIGINT, handleSignal)
        signal(SIGTERM, handleSignal)
        unblockStopSignals()
    }

    /// Unblocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it starts later). A
    /// process inherits its parent's signal mask, and test runners and some supervisors block these, so
    /// an `olab sweep` started by one would ignore `kill` until its workers finish; every `olab` command
    /// calls this first, so a stop signal always stops it (and, through `ParentWatch`, its workers).
    public static func unblockStopSignals() {
        var mask = sigset_t()
        sigemptyset(&mask)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, number) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    }

    /// The signal received, if any.
    public static var requested: Int32? { state.requested }

    /// The conventional exit status for a stop by `signal`: 128 + its number.
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    /// Forgets a received signal (tests).
    public static func reset() { state.signalNumber.store(0, ordering: .relaxed) }

    /// Records a request as if the signal had arrived (tests).
    public static func simulate(_ signal: Int32) { state.signalNumber.store(signal, ordering: .relaxed) }
}

/// What a stop signal does, apart from the process-wide handler, so that tests can drive one instance
/// without signalling the test process: the first signal is recorded; outside a deferred section the
/// handler then gives way to the default action; inside one, a second signal is held until it ends.
final class InterruptionState: Sendable {
    let signalNumber = Atomic<Int32>(0)
    let deferring = Atomic<Bool>(false)
    let heldSignal = Atomic<Int32>(0)

    enum Response: Equatable { case restoreDefault, keepHandler }

    var requested: Int32? {
        let value = signalNumber.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    /// The handler's bookkeeping for signal `number` (async-signal-safe: atomics only).
    func receive(_ number: Int32) -> Response {
        let inside = deferring.load(ordering: .sequentiallyConsistent)
        if inside && requested != nil {
            heldSignal.store(number, ordering: .sequentiallyConsistent)
            return .keepHandler
        }
        signalNumber.store(number, ordering: .relaxed)
        return inside ? .keepHandler : .restoreDefault
    }

    func deferringSecondSignal<R>(_ body: () throws -> R, restoreDefault: (Int32) -> Void, actOnHeld: (Int32) -> Void) rethrows -> R {
        deferring.store(true, ordering: .sequentiallyConsistent)
        defer {
            deferring.store(false, ordering: .sequentiallyConsistent)
            let held = heldSignal.exchange(0, ordering: .sequentiallyConsistent)
            if held != 0 {
                actOnHeld(held)
            } else if let first = requested {
                restoreDefault(first)  // what the handler would have done outside the section
            }
        }
        return try body()
    }
}

private func handleSignal(_ number: Int32) {
    if Interruption.state.receive(number) == .restoreDefault { signal(number, SIG_DFL) }
}
