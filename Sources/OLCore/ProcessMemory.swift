import OLPlatform

/// Memory use of the running process.
public enum ProcessMemory {
    /// Peak resident set size of this process image, in bytes.
    ///
    /// On Linux this is `VmHWM` from /proc/self/status, the high-water mark of the process's own address
    /// space. `getrusage`'s `ru_maxrss` is not used there because it survives `execve`: a child that a
    /// large parent starts through posix_spawn (which shares the parent's memory until exec) reports the
    /// parent's peak as its own. That made `olab fuzz` children of the test runner exceed their limit.
    /// Elsewhere, and if /proc is unreadable, `ru_maxrss` is the answer.
    public static func peakResidentBytes() -> Int {
        #if os(Linux)
        if let kibibytes = statusField("VmHWM:") { return kibibytes * 1024 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #endif
    }

    /// Peak resident set size in MiB.
    public static func peakResidentMiB() -> Double { Double(peakResidentBytes()) / 1_048_576 }

    #if os(Linux)
    /// The number on the /proc/self/status line starting with `key` (values there are in kB = KiB).
    private static func statusField(_ key: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix(key) else { continue }
            let digits = text.dropFirst(key.count).filter { $0.isNumber }
            return Int(digits)
        }
        return nil
    }
    #endif
}
