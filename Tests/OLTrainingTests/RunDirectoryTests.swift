import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

/// The ground around the trainer (issue 18): one writer per run directory, the data a run trained on
/// is the data it resumes and is measured on, `--out` never takes over a stranger's directory, and
/// checkpoints and metrics.jsonl are checked against each other on resume.
@Suite("Run directories: one writer, the recorded corpus, strangers' files, checkpoint and log integrity")
struct RunDirectoryTests {
    // MARK: 1. One writer per run directory

    @Test("a locked directory refuses a second lock, in this process or another, naming the holder's PID")
    func lockExcludes() throws {
        let directory = try scratchDirectory("lock")
        let first = try RunDirectoryLock(directory: directory)
        #expect(throws: OutlierLabError.self) { try RunDirectoryLock(directory: directory) }
        do {
            _ = try RunDirectoryLock(directory: directory)
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("\(directory) is in use by process \(getpid()) on "), "\(error.message)")
        }
        first.release()
        let again = try RunDirectoryLock(directory: directory)
        again.release()
    }

    @Test("while a trainer holds a run directory, a second fresh start or resume of it is refused and changes nothing")
    func secondWriterRefused() throws {
        let directory = try scratchDirectory("two-writers")
        let config = try tinyConfig(steps: 20)
        let holder = try Trainer(config: config, directory: directory)
        let config0 = try FileBytes.read(directory + "/config.json")
        for attempt in ["fresh", "resume"] {
            do {
                _ = attempt == "fresh" ? try Trainer(config: config, directory: directory) : try Trainer(resuming: directory)
                Issue.record("\(attempt): expected the second writer to be refused")
            } catch let error as OutlierLabError {
                // A fresh start sees the holder's config.json before it reaches the lock.
                let expected = attempt == "fresh" ? "already holds a run (config.json)" : "is in use by process \(getpid())"
                #expect(error.message.contains(expected), "\(attempt): \(error.message)")
            }
        }
        // Two fresh starts racing on an empty directory: the lock decides.
        let empty = try scratchDirectory("two-fresh")
        let racer = try RunDirectoryLock(directory: empty)
        #expect(throws: OutlierLabError("\(empty) is in use by process \(getpid()) on \(hostName()) (lock \(empty)/olab.lock); wait for it to finish or stop it")) {
            try Trainer(config: config, directory: empty)
        }
        #expect(try FilePath.entries(of: empty) == ["olab.lock"])
        racer.release()
        try expectBitwiseEqual(FileBytes.read(directory + "/config.json"), config0, "config.json")
        try holder.run(stopAfter: 10)
        _ = holder
    }

    @Test("olab train --out D and --resume D exit non-zero with one line naming the PID that holds D", arguments: ["out", "resume"])
    func commandLineSecondWriter(mode: String) throws {
        let directory = try scratchDirectory("cli-lock-\(mode)")
        let run = directory + "/run"
        if mode == "resume" {
            #expect(try runOlab(["train"] + fourStepRunFlags + ["--stop-after", "2", "--out", run]).status == 0)
        } else {
            try FilePath.makeDirectories(run)
        }
        let lock = try RunDirectoryLock(directory: run)
        defer { lock.release() }
        let result = try runOlab(["train"] + (mode == "resume" ? ["--resume", run] : fourStepRunFlags + ["--out", run]))
        #expect(result.status == 2)
        #expect(result.err == "error: \(run) is in use by process \(getpid()) on \(hostName()) (lock \(run)/olab.lock); wait for it to finish or stop it\n", "\(result.err)")
    }

    // MARK: 3. --out never takes over a stranger's directory

    @Test("--out refuses a non-empty directory that is not a run directory and leaves its files untouched")
    func strangersDirectory() throws {
        let directory = try scratchDirectory("stranger")
        try AtomicFile.write("{\"mine\": true}\n", to: directory + "/summary.json")
        do {
            _ = try Trainer(config: try tinyConfig(), directory: directory)
            Issue.record("expected a refusal")
        } catch let error as OutlierLabError {
            #expect(error.message == "\(directory) is not empty and is not a run directory (it holds summary.json); choose a new or empty --out")
        }
        #expect(try FilePath.entries(of: directory) == ["summary.json"])
        #expect(try FileBytes.readText(directory + "/summary.json") == "{\"mine\": true}\n")
    }

    @Test("a failed start in a new directory removes the directory, lock file included")
    func failedStartLeavesNothing() throws {
        let directory = try scratchDirectory("failed-start") + "/run"
        var config = try tinyConfig()
        config.corpus = "/nonexistent/corpus.txt"
        #expect(throws: OutlierLabError.self) { try Trainer(config: config, directory: directory) }
        #expect(!FilePath.exists(directory))
    }

    @Test("a killed checkpoint write's temporary file is removed when the run is resumed")
    func staleCheckpointTemporaryRemoved() throws {
        let directory = try scratchDirectory("stale-temporary")
        try Trainer(config: try tinyConfig(steps: 20), directory: directory).run(stopAfter: 10)
        let stale = directory + "/.checkpoint.safetensors.tmp-99999999-7"
        try AtomicFile.write(Array(repeating: 0, count: 4096), to: stale)
        _ = try Trainer(resuming: directory)
        #expect(!FilePath.exists(stale))
        #expect(!(try FilePath.entries(of: directory)).contains { AtomicFile.temporaryOwner($0) != nil })
    }

    // MARK: 2. The recorded corpus

    @Test("a relative corpus path is stored absolute; resume, eval and metrics refuse a changed corpus unless allowed, which is recorded")
    func corpusDigestChecked() throws {
        let directory = try scratchDirectory("corpus")
        let text = (0..<400).map { "def f\($0)(x): return x * \($0)\n" }.joined()
        try AtomicFile.write(text, to: directory + "/corpus.txt")
        let started = try runOlab(["train"] + fourStepRunFlags + ["--corpus", "corpus.txt", "--stop-after", "2", "--out", "run"], directory: directory)
        #expect(started.status == 0, "\(started.err)")
        let run = directory + "/run"
        let config = try JSONValue.parse(bytes: try FileBytes.read(run + "/config.json"))
        let absolute = try #require(config["corpus"]?.stringValue)
        #expect(absolute.hasPrefix("/") && absolute.hasSuffix("/corpus.txt"), "\(absolute)")

        try AtomicFile.write(text + "# one more line\n", to: directory + "/corpus.txt")
        let refused = try runOlab(["train", "--resume", run])
        #expect(refused.status == 2)
        #expect(refused.err.hasPrefix("error: \(run): the corpus \(absolute) has changed since the run started (SHA-256 "), "\(refused.err)")
        #expect(refused.err.hasSuffix("; restore it, or pass --allow-corpus-change to continue on the new data\n"))
        for command in ["eval", "metrics"] {
            let result = try runOlab([command, "--checkpoint", run + "/checkpoint.safetensors"])
            #expect(result.status == 2 && result.err.contains("has changed since this checkpoint's run trained on it"), "\(command): \(result.err)")
            let allowed = try runOlab([command, "--checkpoint", run + "/checkpoint.safetensors", "--allow-corpus-change"])
            #expect(allowed.status == 0, "\(allowed.err)")
            #expect(try JSONValue.parse(allowed.out)["corpus_change"]?["recorded_sha256"] != nil)
        }
        let resumed = try runOlab(["train", "--resume", run, "--allow-corpus-change"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.err.hasPrefix("note: the corpus \(absolute) has changed since the run started"))
        let record = try JSONValue.parse(bytes: try FileBytes.read(run + "/corpus.json"))
        let changes = try #require(record["changes"]?.arrayValue)
        #expect(changes.count == 1 && changes[0]["step"] == 2)
        // The final model records the new digest, so eval on the new data needs no flag.
        #expect(try runOlab(["eval", "--checkpoint", run + "/model.safetensors"]).status == 0)
    }

    // MARK: 9. Checkpoint digests and metrics.jsonl

    @Test("a checkpoint whose tensor table was edited (offsets swapped, digest missing, version 1) is refused", arguments: ["swap", "missing", "version"])
    func tensorTableCovered(fault: String) throws {
        let directory = try scratchDirectory("table-\(fault)")
        try Trainer(config: try tinyConfig(steps: 20), directory: directory).run(stopAfter: 10)
        let path = directory + "/" + Trainer.checkpointName
        let bytes = try FileBytes.read(path)
        let headerLength = Int(bytes[0..<8].reversed().reduce(0) { $0 << 8 | UInt64($1) })
        var header = try JSONValue.parse(bytes: Array(bytes[8 ..< 8 + headerLength])).objectMembers!
        func entry(_ name: String) -> Int { header.firstIndex { $0.key == name }! }
        let expected: String
        switch fault {
        case "swap":
            // Two tensors of the same shape trade data_offsets: the data buffer is byte-identical.
            let a = entry("h0.attn.proj"), b = entry("h1.attn.proj")
            (header[a], header[b]) = (JSONMember(header[a].key, header[b].value), JSONMember(header[b].key, header[a].value))
            expected = "does not match the recorded"
        case "missing":
            header = header.map { member in
                guard member.key == "__metadata__" else { return member }
                return JSONMember(member.key, .object(member.value.objectMembers!.filter { $0.key != "tensors_sha256" }))
            }
            expected = "checkpoint has no tensors_sha256 digest"
        default:
            header = header.map { member in
                guard member.key == "__metadata__" else { return member }
                return JSONMember(member.key, .object(member.value.objectMembers!.map { $0.key == "format_version" ? JSONMember($0.key, "1") : $0 }))
            }
            expected = "checkpoint format version 1 is not supported (this build reads 2); version 1 checkpoints carry no tensor-table or corpus digest"
        }
        var text = Array(JSONValue.object(header).serialized().utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        var edited: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) }
        edited += text
        edited += bytes[(8 + headerLength)...]
        try AtomicFile.write(edited, to: path)
        do {
            _ = try Checkpoint.read(path)
            Issue.record("expected \(fault) to be refused")
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix(path + ": ") && error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("resume checks metrics.jsonl against the checkpoint: repeated, corrupt, foreign, late and missing lines are reported and repaired")
    func metricsLogRepaired() throws {
        let directory = try scratchDirectory("log-repair")
        try Trainer(config: try tinyConfig(steps: 40), directory: directory).run(stopAfter: 30)
        let path = directory + "/metrics.jsonl"
        let lines = try FileBytes.readText(path).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)  // steps 0, 10, 20, 30
        let late = lines[3].replacingOccurrences(of: "\"step\":30", with: "\"step\":40")
        let foreign = lines[1].replacingOccurrences(of: "\"step\":10", with: "\"step\":15")
        try AtomicFile.write([lines[1], lines[1], "{not json", foreign, lines[2], lines[3], late, "{\"step\": 3"].joined(separator: "\n"), to: path)
        try repairAndContinue(directory)
        // A repaired log is left byte for byte; only the gap is reported again.
        let before = try FileBytes.read(path)
        #expect(try Trainer(resuming: directory).notes == ["\(path): no line for step 0 before the checkpoint's step 30; that gap cannot be refilled"])
        try expectBitwiseEqual(FileBytes.read(path), before, "metrics.jsonl")

        func repairAndContinue(_ directory: String) throws {
            let trainer = try Trainer(resuming: directory)
            #expect(trainer.notes == [
            "\(path): dropped line 7, logged after the checkpoint's step 30; they are logged again",
            "\(path): dropped line 2, repeating a step already logged",
            "\(path): dropped lines 3, 8, not a JSON object with an integer step",
            "\(path): dropped line 4, for steps this run does not log",
            "\(path): no line for step 0 before the checkpoint's step 30; that gap cannot be refilled",
        ])
            expectSameLines(try FileBytes.readText(path).split(separator: "\n").map(String.init), Array(lines[1...3]), "repaired metrics.jsonl")
        }
    }
}

func hostName() -> String {
    var host = [CChar](repeating: 0, count: 256)
    gethostname(&host, host.count - 1)
    return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
