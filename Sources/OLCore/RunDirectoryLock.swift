import OLPlatform

/// One writer per directory: an advisory `flock` on `<directory>/olab.lock`, held until `release()` or
/// deinit (and by the kernel until the process ends, so a killed holder never leaves a stale lock).
/// The holder writes its PID and host into the file, so a second writer's one-line error names it.
///
/// The lock file is never removed: unlinking it while another process has it open would let two
/// processes lock two different inodes of the same name. `flock` locks belong to the open file
/// description, so two locks taken in the same process also exclude each other; Linux maps `flock`
/// to byte-range locks on NFS, so the lock also holds between machines sharing a run cache.
public final class RunDirectoryLock: @unchecked Sendable {
    public static let fileName = "olab.lock"

    public let directory: String
    private var fd: Int32

    /// Takes the lock of the existing directory `directory` without waiting, in the lock file `name`.
    /// A directory locked by another writer throws one line naming that writer's PID.
    public init(directory: String, name: String = RunDirectoryLock.fileName) throws {
        self.directory = directory
        let path = directory + "/" + name
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw OutlierLabError("cannot lock \(directory): cannot open \(path): \(errnoText())") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let busy = errno == EWOULDBLOCK
            let reason = errnoText()
            let holder = Self.holderDescription(fd)
            close(fd)
            fd = -1
            throw OutlierLabError(busy
                ? "\(directory) is in use by \(holder) (lock \(path)); wait for it to finish or stop it"
                : "cannot lock \(directory): \(reason)")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let text = Array("pid \(getpid()) on \(String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))\n".utf8)
        // The PID is for messages only; the lock itself is the flock, so a failed write is not an error.
        if ftruncate(fd, 0) == 0 { _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) } }
    }

    /// Releases the lock (idempotent). Unlocks before closing: a `flock` lives as long as any descriptor
    /// of its open file description, and a child being spawned at this moment holds a copy until its exec
    /// closes it (the descriptor is O_CLOEXEC), which would keep the directory locked under our PID.
    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }

    /// "process 1234 on host" as the holder recorded it, or "another process" if it has not yet.
    private static func holderDescription(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 200)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        guard count > 0 else { return "another process" }
        let text = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        guard text.hasPrefix("pid ") else { return "another process" }
        return "process " + String(text.dropFirst(4)).escapingControlCharacters
    }
}
