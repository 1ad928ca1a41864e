import OLCore
import OLData

/// A run directory (<doc:Training>) and the checks that claim or reopen it: one writer at a time (the lock),
/// never a stranger's files, and every output written atomically.
struct RunDirectory {
    let path: String
    /// Held for the run's lifetime.
    let lock: RunDirectoryLock

    static let checkpointName = "checkpoint.safetensors"
    static let finalName = "model.safetensors"
    static let corpusRecordName = "corpus.json"

    var configPath: String { path + "/config.json" }
    var corpusRecordPath: String { path + "/" + Self.corpusRecordName }

    /// Claims a new or empty directory (created if needed) and locks it; returns the directories it
    /// created, for `removeCreated` to undo a failed start.
    static func claimNew(_ path: String) throws -> (directory: RunDirectory, created: [String]) {
        // Checked before the lock (no lock file is left in a stranger's directory) and again under it.
        try requireEmpty(path)
        let created = try FilePath.makeDirectories(path)
        do {
            let lock = try RunDirectoryLock(directory: path)
            try requireEmpty(path)
            AtomicFile.removeTemporaries(in: path)
            return (RunDirectory(path: path, lock: lock), created)
        } catch {
            removeCreated(created, directory: path)
            throw error
        }
    }

    private static func requireEmpty(_ path: String) throws {
        guard FilePath.isDirectory(path) else { return }
        for name in ["config.json", checkpointName, finalName] where FilePath.exists(path + "/" + name) {
            throw OutlierLabError("\(path) already holds a run (\(name)); resume it with --resume \(path) or choose another --out")
        }
        let strangers = try FilePath.entries(of: path).filter { $0 != RunDirectoryLock.fileName && AtomicFile.temporaryOwner($0) == nil }
        if let first = strangers.first {
            throw OutlierLabError("\(path) is not empty and is not a run directory (it holds \(first.escapingControlCharacters)\(strangers.count > 1 ? " and \(strangers.count - 1) more" : "")); choose a new or empty --out")
        }
    }

    /// Locks an existing run and reads what it resumes from: its last checkpoint, or (killed before the
    /// first one) its `config.json`. A checkpoint whose config disagrees with `config.json` is refused.
    static func openForResume(_ path: String) throws -> (directory: RunDirectory, config: TrainingConfig, checkpoint: Checkpoint?) {
        guard FilePath.isDirectory(path) else { throw OutlierLabError("\(path) is not a run directory (no such directory)") }
        let directory = RunDirectory(path: path, lock: try RunDirectoryLock(directory: path))
        AtomicFile.removeTemporaries(in: path)
        let checkpointPath = path + "/" + checkpointName, configPath = directory.configPath
        guard FilePath.exists(checkpointPath) else {
            if FilePath.exists(path + "/" + finalName) {
                throw OutlierLabError("\(path) holds a finished run (\(finalName)); nothing to resume")
            }
            guard FilePath.exists(configPath) else {
                throw OutlierLabError("\(path) has no \(checkpointName) to resume from")
            }
            return (directory, try readConfig(configPath), nil)
        }
        let checkpoint = try Checkpoint.read(checkpointPath)
        if FilePath.exists(configPath) {
            let recorded = try readConfig(configPath)
            guard recorded == checkpoint.config else {
                let differing = zip(recorded.json.objectMembers!, checkpoint.config.json.objectMembers!)
                    .filter { $0.0.value != $0.1.value }
                    .map { "\($0.0.key) \($0.0.value.serialized()) vs \($0.1.value.serialized())" }
                throw OutlierLabError("\(checkpointPath): the checkpoint's config disagrees with \(configPath) (\(differing.joined(separator: ", "))); it belongs to another run")
            }
        }
        return (directory, checkpoint.config, checkpoint)
    }

    private static func readConfig(_ path: String) throws -> TrainingConfig {
        try TrainingConfig(json: try JSONValue.parse(bytes: try FileBytes.read(path), source: path), source: path)
    }

    /// The corpus digest the run recorded: the checkpoint's, else (killed before its first checkpoint)
    /// the record written at the start; a fresh run has none yet.
    func recordedCorpusDigest(_ checkpoint: Checkpoint?) throws -> String? {
        if let digest = checkpoint?.corpusSHA256 { return digest }
        guard FilePath.exists(corpusRecordPath) else { return nil }
        return try JSONValue.parse(bytes: try FileBytes.read(corpusRecordPath), source: corpusRecordPath)["sha256"]?.stringValue
    }

    /// Writes `corpus.json`: the corpus summary, plus every accepted change (step, old and new digest).
    func recordCorpus(_ corpus: ByteCorpus, digest: String, change: String?, step: Int) throws {
        let path = corpusRecordPath
        var changes: [JSONValue] = []
        if FilePath.exists(path), let old = try? JSONValue.parse(bytes: try FileBytes.read(path), source: path) {
            changes = old["changes"]?.arrayValue ?? []
        }
        if let change {
            changes.append(.object([JSONMember("step", .int(Int64(step))), JSONMember("to_sha256", .string(digest)),
                                    JSONMember("note", .string(change))]))
        }
        let members = (corpus.summary.objectMembers ?? []) + [JSONMember("changes", .array(changes))]
        try AtomicFile.write(JSONValue.object(members).serialized(pretty: true) + "\n", to: path)
    }

    func writeConfig(_ config: TrainingConfig) throws {
        try AtomicFile.write(config.json.serialized(pretty: true) + "\n", to: configPath)
    }

    /// Creates `config.json`, `corpus.json` and an empty `metrics.jsonl`. If any of them cannot be
    /// written (unwritable or full disk), removes what it created, so a failed start leaves no partial run.
    func startFiles(config: TrainingConfig, recordCorpus: () throws -> Void) throws -> MetricsLog {
        let names = ["config.json", "metrics.jsonl", Self.corpusRecordName]
        let existed = names.map { FilePath.exists(path + "/" + $0) }
        do {
            try writeConfig(config)
            try recordCorpus()
            return try MetricsLog(path: path + "/metrics.jsonl")
        } catch {
            for (name, existed) in zip(names, existed) where !existed { unlink(path + "/" + name) }
            throw error
        }
    }

    /// Undoes a failed fresh start: the lock file and the directories it created.
    static func removeCreated(_ created: [String], directory: String) {
        guard !created.isEmpty else { return }
        unlink(directory + "/" + RunDirectoryLock.fileName)
        for made in created.reversed() { rmdir(made) }
    }

    /// Writes one output file of the run; a failure (full disk, unwritable directory) names the step and
    /// says what survived: writes are atomic, so every file on disk is still its previous complete version.
    func writeOutput(_ name: String, step: Int, _ write: (String) throws -> Void) throws {
        do {
            try Interruption.deferringSecondSignal { try write(path + "/" + name) }
        } catch let error as OutlierLabError {
            throw OutlierLabError("step \(step): \(error.message); the files already in \(path) are unchanged, continue with: olab train --resume \(path)")
        }
    }

    /// A corpus path made absolute (symbolic links resolved) so that the run, its resume and `eval`
    /// read the same data from any working directory; paths that do not resolve stay.
    static func absolutePath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
