import Testing
@testable import OLCore

/// The stop-signal bookkeeping on its own instance: the test process is never signalled, so trainers
/// in other tests are not stopped.
@Suite("Stop signals around a checkpoint write")
struct InterruptionTests {
    @Test("outside a checkpoint write the first signal is recorded and the default action restored")
    func outsideWrite() {
        let state = InterruptionState()
        #expect(state.receive(SIGINT) == .restoreDefault)
        #expect(state.requested == SIGINT)
    }

    @Test("a second signal during a checkpoint write is held until the write is done, then acted on")
    func secondSignalHeld() {
        let state = InterruptionState()
        var acted: [Int32] = [], restored: [Int32] = []
        var finished = false
        #expect(state.receive(SIGINT) == .restoreDefault)  // the first Ctrl-C: finish the step, checkpoint
        state.deferringSecondSignal({
            #expect(state.receive(SIGINT) == .keepHandler)  // the second, mid-write: not fatal yet
            #expect(acted.isEmpty)
            finished = true                                 // the rename that completes the checkpoint
        }, restoreDefault: { restored.append($0) }, actOnHeld: { acted.append($0) })
        #expect(finished && acted == [SIGINT] && restored.isEmpty)
        #expect(state.heldSignal.load(ordering: .relaxed) == 0)
    }

    @Test("a first signal during a checkpoint write keeps the handler until the write is done")
    func firstSignalDuringWrite() {
        let state = InterruptionState()
        var acted: [Int32] = [], restored: [Int32] = []
        state.deferringSecondSignal({
            #expect(state.receive(SIGTERM) == .keepHandler)
        }, restoreDefault: { restored.append($0) }, actOnHeld: { acted.append($0) })
        #expect(state.requested == SIGTERM && restored == [SIGTERM] && acted.isEmpty)
    }
}
