import OLPlatform

/// Where a command may write, the one policy of every command that writes a file or a report folder:
/// a new path, or a regular file the command wrote before (or any regular file with `--overwrite`);
/// never a device, FIFO, socket, directory or symbolic link, and never inside `Goldens/`, which only
/// `olab golden accept` changes.
public enum OutputPolicy {
    /// The flag that lets a command replace a user's existing file.
    public static let overwriteFlag = "--overwrite"

    /// Refuses `path` as the target of one output file unless it is new, or a regular file and `replace`.
    public static func checkFile(_ path: String, replace: Bool) throws {
        try checkOutsideGoldens(path)
        guard let fileKind = kind(of: path) else { return }
        guard fileKind == S_IFREG else { throw OutlierLabError("\(path): \(name(of: fileKind)), not a regular file; give a new path") }
        guard replace else { throw OutlierLabError("\(path) exists; pass \(overwriteFlag) to replace it, or give a new path") }
    }

    /// Refuses `directory` as a report folder unless it is new or a real directory, and refuses each of
    /// `files` (paths relative to it) that exists and is not a regular file, or is a regular file that
    /// neither an earlier report wrote (its digest in `owned`) nor `replace` allows.
    public static func checkFolder(_ directory: String, files: [String], owned: [String: String], replace: Bool) throws {
        try checkOutsideGoldens(directory + "/" + ReportFolder.ownershipName)
        guard let folderKind = kind(of: directory) else { return }
        guard folderKind == S_IFDIR else { throw OutlierLabError("\(directory): \(name(of: folderKind)), not a directory; give a new path or a folder") }
        for file in files {
            let path = directory + "/" + file
            guard let fileKind = kind(of: path) else { continue }
            guard fileKind == S_IFREG else { throw OutlierLabError("\(path): \(name(of: fileKind)), not a regular file; move it away or give another folder") }
            if replace { continue }
            guard let digest = owned[file], let bytes = try? FileBytes.read(path), SHA256.hex(bytes) == digest else {
                throw OutlierLabError("\(path) exists and was not written by an earlier report; pass \(overwriteFlag) to replace it, or give another folder")
            }
        }
    }

    /// Refuses a path inside a golden tree (a `Goldens` folder holding `MANIFEST.json`), judged both as
    /// written with `..` resolved by name (as `mkdir -p` walks it) and through symbolic links.
    public static func checkOutsideGoldens(_ path: String) throws {
        for candidate in [path, lexicallyNormalised(path)] {
            var existing = FilePath.directory(of: candidate)
            while !FilePath.isDirectory(existing) && existing != "/" && existing != "." { existing = FilePath.directory(of: existing) }
            guard let resolved = realpath(existing, nil) else { continue }
            var directory = String(cString: resolved)
            free(resolved)
            while true {
                if FilePath.lastComponent(of: directory) == "Goldens" && FilePath.exists(directory + "/MANIFEST.json") {
                    throw OutlierLabError("\(path) is inside the golden tree \(directory); only `olab golden accept` writes there")
                }
                let parent = FilePath.directory(of: directory)
                if parent == directory { break }
                directory = parent
            }
        }
    }

    /// `path` with `.` and `name/..` pairs removed by name.
    static func lexicallyNormalised(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// The file type bits of `path` itself (a link is not followed), nil when nothing is there.
    static func kind(of path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    static func name(of kind: mode_t) -> String {
        switch kind {
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a directory"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        default: "a regular file"
        }
    }
}

/// A folder of report files written as a whole: every file is staged and flushed first, then all are
/// renamed into place, so a full disk leaves the previous report complete, never half old, half new.
/// `.olab-outputs.json` records each file's digest, so the next report replaces its own files (and
/// removes those it no longer writes) but no file a user put or edited there.
public enum ReportFolder {
    public static let ownershipName = ".olab-outputs.json"

    /// The digests of the files the last report wrote into `directory` (empty when none).
    public static func owned(_ directory: String) -> [String: String] {
        guard let json = try? JSONValue.parse(bytes: try FileBytes.read(directory + "/" + ownershipName)),
              let members = json["sha256"]?.objectMembers else { return [:] }
        var owned: [String: String] = [:]
        for member in members { if let digest = member.value.stringValue { owned[member.key] = digest } }
        return owned
    }

    /// Checks the output policy for `files` in `directory` without writing (also before long work, so a
    /// refusal comes before hours of training, not after).
    public static func check(_ directory: String, files: [String], replace: Bool) throws {
        try OutputPolicy.checkFolder(directory, files: files, owned: owned(directory), replace: replace)
        let ownership = directory + "/" + ownershipName
        if let kind = OutputPolicy.kind(of: ownership), kind != S_IFREG {
            throw OutlierLabError("\(ownership): \(OutputPolicy.name(of: kind)), not a regular file; move it away or give another folder")
        }
    }

    /// Writes `files` (relative path, bytes) into `directory` as a whole, under the output policy.
    public static func write(_ files: [(name: String, bytes: [UInt8])], to directory: String, replace: Bool) throws {
        let previous = owned(directory)
        try check(directory, files: files.map(\.name), replace: replace)
        let ownership = directory + "/" + ownershipName
        let created = try FilePath.makeDirectories(directory)
        var staged: [AtomicFile.StagedFile] = []
        do {
            for subfolder in Set(files.map { FilePath.directory(of: $0.name) }) where subfolder != "." {
                try FilePath.makeDirectories(directory + "/" + subfolder)
            }
            for file in files { staged.append(try AtomicFile.stage(file.bytes, for: directory + "/" + file.name)) }
            let digests = files.map { JSONMember($0.name, .string(SHA256.hex($0.bytes))) }
            let record = JSONValue.object([JSONMember("format_version", 1), JSONMember("sha256", .object(digests))])
            staged.append(try AtomicFile.stage(Array((record.serialized(pretty: true) + "\n").utf8), for: ownership))
        } catch {
            for file in staged { file.discard() }
            for made in created.reversed() { rmdir(made) }
            throw error
        }
        for file in staged { try file.commit() }
        let written = Set(files.map(\.name))
        for (name, digest) in previous where !written.contains(name) {
            let path = directory + "/" + name
            if OutputPolicy.kind(of: path) == S_IFREG, let bytes = try? FileBytes.read(path), SHA256.hex(bytes) == digest { unlink(path) }
        }
    }
}
