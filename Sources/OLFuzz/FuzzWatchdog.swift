#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// SIGALRM (a hang) and crash signals print the seed and iteration before the process ends, so any
/// failure can be replayed with the same --seed and --iterations.
enum FuzzWatchdog {
    nonisolated(unsafe) static var iteration = 0
    nonisolated(unsafe) static var seed: UInt64 = 0

    static func install(seed: UInt64) {
        self.seed = seed
        for number in [SIGALRM, SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGABRT] { signal(number, fuzzSignalHandler) }
    }

    static func begin(iteration: Int, seconds: UInt32) {
        self.iteration = iteration
        alarm(seconds)
    }
}

private func fuzzSignalHandler(_ number: Int32) {
    var text: [UInt8] = Array((number == SIGALRM ? "error: fuzz: hang (timeout)" : "error: fuzz: crash (signal \(number))").utf8)
    text += Array(" at seed \(FuzzWatchdog.seed) iteration \(FuzzWatchdog.iteration)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
    _exit(number == SIGALRM ? 3 : 4)
}
