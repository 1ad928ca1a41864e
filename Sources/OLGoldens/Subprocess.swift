import OLCore

/// Runs a program found on PATH with posix_spawn, capturing stdout (stderr is discarded, or captured
/// with it): enough for git at record and accept time, the NumPy replay of candidates and the tests that
/// run the Python reader.
enum Subprocess {
    struct Result {
        var status: Int32
        var output: String
    }

    /// nil when the program cannot be started.
    static func run(_ arguments: [String], stdinPath: String = "/dev/null", capturingErrors: Bool = false) -> Result? {
        var pipeEnds: [Int32] = [0, 0]
        guard !arguments.isEmpty, pipe(&pipeEnds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        if capturingErrors {
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else { return nil }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            output.append(contentsOf: buffer[0 ..< got])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitCode, output: String(decoding: output, as: UTF8.self))
    }
}

/// The git revision recorded in golden headers.
enum GitRevision {
    private static let cacheLock = Mutex()
    nonisolated(unsafe) private static var cache: [String: String] = [:]

    /// `git rev-parse --short HEAD` in `directory`, with `-dirty` when tracked or unignored files differ
    /// from HEAD (a golden recorded from uncommitted code says so), or "unknown" when git or the
    /// repository is absent. Cached per directory: a test run records many goldens.
    static func short(in directory: String) -> String {
        if let known = cacheLock.locked({ cache[directory] }) { return known }
        var revision = "unknown"
        if let result = Subprocess.run(["git", "-C", directory, "rev-parse", "--short", "HEAD"]), result.status == 0 {
            let text = String(result.output.filter { !$0.isWhitespace })
            if !text.isEmpty { revision = text }
            if let status = Subprocess.run(["git", "-C", directory, "status", "--porcelain"]), status.status == 0,
               status.output.contains(where: { !$0.isWhitespace }) {
                revision += "-dirty"
            }
        }
        cacheLock.locked { cache[directory] = revision }
        return revision
    }
}
