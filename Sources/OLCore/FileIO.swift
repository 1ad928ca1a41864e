import OLPlatform

/// File reading and atomic writing. Every checkpoint, golden, manifest, summary and report goes through
/// `AtomicFile.write`: the bytes go to a temporary file in the same directory, are flushed with fsync,
/// and the file is renamed over the target (then the directory is synced), so a reader sees either the
/// old complete file or the new complete file, never a partial one.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically. On any error the target is left as it was and the temporary
    /// file is removed.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try stage(bytes, for: path).commit()
    }

    /// A file written and flushed under a temporary name beside its target, not yet renamed over it.
    /// Staging every file of a multi-file update first means a full disk fails before any target changes.
    public struct StagedFile {
        public let path: String
        let temporary: String

        /// Renames the staged file over its target and syncs the directory.
        public func commit() throws {
            guard rename(temporary, path) == 0 else {
                let reason = errnoText()
                unlink(temporary)
                throw OutlierLabError("cannot write \(path): \(reason)")
            }
            let directoryFD = open(FilePath.directory(of: path), O_RDONLY | O_CLOEXEC)
            if directoryFD >= 0 {
                _ = fsync(directoryFD)
                close(directoryFD)
            }
        }

        /// Removes the staged file; the target stays as it was.
        public func discard() { unlink(temporary) }
    }

    /// Writes `bytes` to a temporary file beside `path` and flushes it; on any error nothing is left.
    public static func stage(_ bytes: [UInt8], for path: String) throws -> StagedFile {
        let directory = FilePath.directory(of: path)
        let temporary = "\(directory)/.\(FilePath.lastComponent(of: path)).tmp-\(getpid())-\(nextSerial())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutlierLabError("cannot write \(path): \(errnoText())") }
        do {
            try bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = OLPlatform.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw OutlierLabError("cannot write \(path): \(errnoText())")
                    }
                    offset += written
                }
            }
            guard fsync(fd) == 0 else { throw OutlierLabError("cannot write \(path): \(errnoText())") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw OutlierLabError("cannot write \(path): \(reason)")
        }
        return StagedFile(path: path, temporary: temporary)
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// The process that owns `name` if it is one of our temporary files (`.<target>.tmp-<pid>-<serial>`).
    public static func temporaryOwner(_ name: String) -> Int32? {
        let bytes = Array(name.utf8), marker = Array(".tmp-".utf8)
        guard name.hasPrefix("."), bytes.count > marker.count + 1 else { return nil }
        var start = bytes.count - marker.count
        while start >= 1 && !bytes[start ..< start + marker.count].elementsEqual(marker) { start -= 1 }
        guard start >= 1 else { return nil }
        let parts = String(decoding: bytes[(start + marker.count)...], as: UTF8.self).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = Int32(parts[0]) else { return nil }
        return pid
    }

    /// Removes the temporary files a killed writer left in `directory` (not below it). With
    /// `onlyDeadOwners`, only those whose process no longer exists on this machine; without it, every
    /// one: right for a directory the caller holds a `RunDirectoryLock` on, since no one else writes there.
    /// Returns the names removed.
    @discardableResult
    public static func removeTemporaries(in directory: String, onlyDeadOwners: Bool = false) -> [String] {
        guard let names = try? FilePath.entries(of: directory) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let owner = temporaryOwner(name) else { continue }
            if onlyDeadOwners && (owner == getpid() || kill(owner, 0) == 0 || errno != ESRCH) { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if unlink(directory + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    nonisolated(unsafe) private static var serial = 0
    private static let serialLock = Mutex()
    private static func nextSerial() -> Int {
        serialLock.locked { serial += 1; return serial }
    }
}

/// Reading whole files with clear errors.
public enum FileBytes {
    /// The bytes of the file at `path`; a missing, unreadable or non-regular file throws a one-line error.
    public static func read(_ path: String) throws -> [UInt8] {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer; it has no
        // effect on the regular files we go on to read.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw OutlierLabError("cannot read \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw OutlierLabError("cannot read \(path): \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw OutlierLabError("cannot read \(path): not a regular file") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let got = bytes.withUnsafeMutableBytes { raw in OLPlatform.read(fd, raw.baseAddress! + offset, raw.count - offset) }
            if got < 0 {
                if errno == EINTR { continue }
                throw OutlierLabError("cannot read \(path): \(errnoText())")
            }
            if got == 0 { break }
            offset += got
        }
        if offset < bytes.count { bytes.removeLast(bytes.count - offset) }
        return bytes
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }
}

/// Path helpers without Foundation.
public enum FilePath {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let head = String(path[..<slash])
        return head.isEmpty ? "/" : head
    }

    public static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` itself is a symbolic link (not followed).
    public static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// The names in `directory` (without `.` and `..`), in byte order.
    public static func entries(of directory: String) throws -> [String] {
        guard let handle = opendir(directory) else { throw OutlierLabError("cannot list \(directory): \(errnoText())") }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its parents (like `mkdir -p`); returns the directories it created, outermost
    /// first, so that a caller that fails later can remove them again.
    @discardableResult
    public static func makeDirectories(_ path: String) throws -> [String] {
        if isDirectory(path) { return [] }
        var created: [String] = []
        let parent = directory(of: path)
        if parent != path && !parent.isEmpty && parent != "." && parent != "/" { created = try makeDirectories(parent) }
        if mkdir(path, 0o755) == 0 {
            created.append(path)
        } else if errno != EEXIST || !isDirectory(path) {
            let reason = errno == EEXIST ? "a file of that name exists" : errnoText()
            for made in created.reversed() { rmdir(made) }
            throw OutlierLabError("cannot create directory \(path): \(reason)")
        }
        return created
    }
}

/// The text of the current `errno`.
public func errnoText() -> String { String(cString: strerror(errno)) }

/// A small pthread mutex for the few pieces of shared state (serial numbers, signal flags).
public final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    public func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

