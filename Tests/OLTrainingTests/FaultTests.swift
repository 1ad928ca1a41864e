import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLGoldens
@testable import OLTraining

/// Faults injected into real `olab` processes: kills at random steps, divergence, bad input, an
/// unwritable directory and a full disk. Every test checks that nothing already on disk is lost.
@Suite("Faults: kills, divergence, bad input, full and unwritable disks", .serialized)
struct FaultTests {
    // MARK: Kills at seeded random steps

    @Test("SIGKILL at three seeded random steps, resumed each time, ends bitwise equal to an uninterrupted run",
          arguments: [("adamw", UInt64(11)), ("soap", UInt64(12))])
    func killAtRandomSteps(optimizer: String, seed: UInt64) throws {
        let directory = try scratchDirectory("kill-\(optimizer)")
        let steps = 48
        // checkpoint_every 7 does not divide log_every 1, so kills land between checkpoints and after
        // logged lines that the resume must drop; log_every 1 prints every step for the kill trigger.
        let arguments = tinyModelFlags + ["--optimizer", optimizer, "--steps", "\(steps)", "--checkpoint-every", "7", "--log-every", "1"]
        let straight = try runOlab(["train"] + arguments + ["--out", directory + "/straight"])
        #expect(straight.status == 0, "stderr: \(straight.err)")

        var random = RandomStream(seed: seed, purpose: "kill-steps")
        let killSteps = (0..<3).map { _ in 1 + random.nextInt(below: steps - 1) }.sorted()
        let run = directory + "/killed"
        for (index, killStep) in killSteps.enumerated() {
            let command = index == 0 ? ["train"] + arguments + ["--out", run] : ["train", "--resume", run]
            let reached = try runOlabKilled(command, atStep: killStep)
            #expect(reached == .killed || reached == .finished, "kill \(index) at step \(killStep): \(reached)")
        }
        // The last process may have finished before its kill; resuming a finished run is refused.
        if !FilePath.exists(run + "/model.safetensors") {
            let resumed = try runOlab(["train", "--resume", run])
            #expect(resumed.status == 0, "kill steps \(killSteps): \(resumed.err)")
        }
        try expectBitwiseEqual(FileBytes.read(directory + "/straight/model.safetensors"), FileBytes.read(run + "/model.safetensors"), "kill steps \(killSteps)")
        try expectSameLines(metricsWithoutWallClock(directory + "/straight"), metricsWithoutWallClock(run), "kill steps \(killSteps)")
    }

    @Test("a run killed before its first checkpoint resumes from config.json and equals the uninterrupted run")
    func killBeforeFirstCheckpoint() throws {
        let config = try tinyConfig(steps: 20)
        let straight = try scratchDirectory("early-straight"), killed = try scratchDirectory("early-killed")
        try Trainer(config: config, directory: straight).run()
        // What a SIGKILL at step 3 leaves: config.json and a few metrics lines, no checkpoint.
        try Trainer(config: config, directory: killed).run(stopAfter: 3)
        unlink(killed + "/" + Trainer.checkpointName)
        try Trainer(resuming: killed).run()
        try expectBitwiseEqual(FileBytes.read(straight + "/model.safetensors"), FileBytes.read(killed + "/model.safetensors"), "model.safetensors")
        try expectSameLines(metricsWithoutWallClock(straight), metricsWithoutWallClock(killed), "metrics.jsonl without wall clock")
    }

    // MARK: Divergence

    @Test("SGD with lr 1e6 diverges: exit 2, one line naming the step and the tensor, last checkpoint bytes unchanged")
    func divergenceKeepsLastCheckpoint() throws {
        let directory = try scratchDirectory("diverge")
        let arguments = tinyModelFlags + ["--optimizer", "sgd", "--lr", "1e6", "--steps", "40", "--checkpoint-every", "2", "--warmup-fraction", "0.5"]
        let diverged = try runOlab(["train"] + arguments + ["--out", directory + "/run"])
        #expect(diverged.status == 2)
        #expect(diverged.err.split(separator: "\n").count == 1, "stderr: \(diverged.err)")
        // "error: step N: non-finite gradient in <tensor>; stopped, the last checkpoint in DIR is kept"
        let step = try #require(Int(diverged.err.dropFirst("error: step ".count).prefix { $0.isNumber }))
        #expect(diverged.err.contains("step \(step): non-finite gradient in ") || diverged.err.contains("step \(step): the training loss is"))
        #expect(diverged.err.contains("the last checkpoint in \(directory)/run is kept"))
        #expect(!FilePath.exists(directory + "/run/model.safetensors"))
        // The checkpoint on disk is the one an uninterrupted run writes at the last multiple of 2 before
        // the failing step, byte for byte, and it loads.
        let lastGood = (step - 1) / 2 * 2
        try #require(lastGood > 0)
        let reference = try runOlab(["train"] + arguments + ["--out", directory + "/reference", "--stop-after", "\(lastGood)"])
        #expect(reference.status == 0)
        try expectBitwiseEqual(FileBytes.read(directory + "/run/checkpoint.safetensors"), FileBytes.read(directory + "/reference/checkpoint.safetensors"), "checkpoint.safetensors")
        #expect(try Checkpoint.read(directory + "/run/checkpoint.safetensors").step == lastGood)
    }

    @Test("an update that overflows the parameters stops before any checkpoint could store them")
    func overflowingUpdate() throws {
        // One step, so no forward pass sees the result: without the check, model.safetensors would be
        // written with infinities. Nesterov SGD steps by lr·1.9·g; unclipped gradients of a model
        // initialised with std 1 exceed 0.6 somewhere, so lr 3e38 overflows Float.
        var config = try tinyConfig(optimizer: "sgd", steps: 1)
        config.lr = 3e38
        config.nesterov = true
        config.gradClip = 0
        config.warmupFraction = 0
        config.model.initStd = 1
        let directory = try scratchDirectory("overflow")
        do {
            try Trainer(config: config, directory: directory).run()
            Issue.record("expected the run to stop")
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("step 1: the optimiser update made parameter "), "\(error.message)")
            #expect(error.message.contains("non-finite; stopped, the last checkpoint in \(directory) is kept"))
        }
        #expect(!FilePath.exists(directory + "/" + Trainer.checkpointName) && !FilePath.exists(directory + "/" + Trainer.finalName))
    }

    @Test("the first non-finite tensor of an arena is named")
    func nonFiniteTensorName() throws {
        let config = try tinyConfig()
        let arena = FloatArena(layout: config.model.parameterLayout())
        #expect(arena.firstNonFiniteTensor() == nil)
        arena.view("h1.mlp.fc")[5] = .infinity
        arena.view("h1.attn.proj")[0] = .nan
        #expect(arena.firstNonFiniteTensor() == "h1.attn.proj")
    }

    // MARK: Checkpoints that do not belong to their run or config

    @Test("resume refuses a checkpoint whose config disagrees with config.json, naming the keys")
    func foreignCheckpoint() throws {
        let a = try scratchDirectory("foreign-a"), b = try scratchDirectory("foreign-b")
        var other = try tinyConfig(steps: 20)
        try Trainer(config: try tinyConfig(steps: 20), directory: a).run(stopAfter: 10)
        other.seed = 99
        other.lr = 2e-3
        try Trainer(config: other, directory: b).run(stopAfter: 10)
        let before = try FileBytes.read(a + "/metrics.jsonl")
        try AtomicFile.write(try FileBytes.read(b + "/checkpoint.safetensors"), to: a + "/checkpoint.safetensors")
        do {
            _ = try Trainer(resuming: a)
            Issue.record("expected an error")
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("\(a)/checkpoint.safetensors: the checkpoint's config disagrees with \(a)/config.json"))
            #expect(error.message.contains("lr null vs 0.002") && error.message.contains("seed 7 vs 99"), "\(error.message)")
        }
        try expectBitwiseEqual(FileBytes.read(a + "/metrics.jsonl"), before, "metrics.jsonl")
    }

    @Test("Checkpoint.read rejects tensors that do not fit the config, flipped data bits and impossible steps", arguments: [
        "shape", "extra", "missing", "bitflip", "step", "nan", "huge",
    ])
    func checkpointThatDoesNotFit(fault: String) throws {
        let directory = try scratchDirectory("misfit-\(fault)")
        try Trainer(config: try tinyConfig(steps: 20), directory: directory).run(stopAfter: 10)
        let path = directory + "/" + Trainer.checkpointName
        let bytes = try FileBytes.read(path)
        let contents = try Safetensors.decode(bytes)
        var tensors = contents.tensors, metadata = contents.metadata
        let expected: String
        switch fault {
        case "shape":
            let index = tensors.firstIndex { $0.name == "h0.attn.proj" }!
            tensors[index] = NamedTensor(name: "h0.attn.proj", shape: [16, 64], floats: tensors[index].floats!)
            expected = "parameter h0.attn.proj has shape [16, 64] F32, expected [32, 32] F32 (the checkpoint does not fit its config)"
        case "extra":
            tensors.append(NamedTensor(name: "h2.attn.qkv", shape: [96, 32], floats: .init(repeating: 0, count: 96 * 32)))
            expected = "tensor h2.attn.qkv is not a parameter of its config's model"
        case "missing":
            tensors.removeAll { $0.name == "h1.mlp.fc" }
            expected = "parameter h1.mlp.fc is missing"
        case "step":
            let index = tensors.firstIndex { $0.name == "train.step" }!
            tensors[index] = NamedTensor(name: "train.step", shape: [1], values: .int64([21]))
            expected = "train.step 21 is past the end of its 20-step schedule"
        case "nan":
            let index = tensors.firstIndex { $0.name == "wpe" }!
            var values = tensors[index].floats!
            values[3] = .nan
            tensors[index] = NamedTensor(name: "wpe", shape: tensors[index].shape, floats: values)
            expected = "parameter wpe holds a NaN or infinity"
        case "huge":
            var config = try tinyConfig(steps: 20)
            config.model.width = 1 << 40
            config.model.heads = 1
            metadata["config"] = config.json.serialized()
            expected = "needs more memory than can be addressed"
        default:
            // One flipped bit in a tensor, the checksum left as written.
            var flipped = bytes
            flipped[flipped.count - 100] ^= 0x10
            try AtomicFile.write(flipped, to: path)
            expectRejection(path, containing: "does not match the recorded")
            return
        }
        // The digest is recomputed so that the check under test, not the digest, rejects the file.
        metadata["tensors_sha256"] = try Checkpoint.tensorsDigest(tensors)
        try Safetensors.write(tensors, metadata: metadata, to: path)
        expectRejection(path, containing: expected)
    }

    private func expectRejection(_ path: String, containing expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Checkpoint.read(path)
            Issue.record("expected \(path) to be rejected", sourceLocation: sourceLocation)
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix(path), sourceLocation: sourceLocation)
            #expect(error.message.contains(expected), "\(error.message)", sourceLocation: sourceLocation)
            #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Bad input on the command line

    @Test("bad configs, flags and corpus paths: one error line, non-zero exit, no run directory", arguments: [
        ("config-unknown", "unknown key 'widht'"),
        ("config-type", "log_every must be an integer"),
        ("config-range", "train_fraction must be strictly between 0 and 1"),
        ("config-shape", "width 48 is not divisible by heads 5"),
        ("config-syntax", "invalid JSON"),
        ("config-huge", "MiB of this machine"),
        ("corpus-missing", "does not exist"),
        ("corpus-empty-file", "is empty"),
        ("corpus-empty-directory", "is empty"),
        ("corpus-fifo", "not a regular file"),
        ("corpus-dangling-link", "does not exist"),
        ("flag-type", "--width"),
        ("flag-unknown", "--bogus"),
    ])
    func badInput(kind: String, expected: String) throws {
        let scratch = try scratchDirectory("bad-\(kind)")
        let out = scratch + "/run"
        var arguments = ["train"] + tinyModelFlags + ["--steps", "5"]
        func config(_ text: String) throws {
            try AtomicFile.write(text, to: scratch + "/config.json")
            arguments += ["--config", scratch + "/config.json"]
        }
        switch kind {
        case "config-unknown": try config(#"{"widht": 64}"#)
        case "config-type": try config(#"{"log_every": "ten"}"#)
        case "config-range": try config(#"{"train_fraction": 1.5}"#)
        case "config-shape": arguments = ["train", "--width", "48", "--heads", "5"]
        case "config-syntax": try config(#"{"steps": 10,"#)
        case "config-huge": arguments += ["--width", "1048576", "--heads", "1", "--layers", "64"]
        case "corpus-missing": arguments += ["--corpus", scratch + "/nothing"]
        case "corpus-empty-file":
            try AtomicFile.write("", to: scratch + "/empty.txt")
            arguments += ["--corpus", scratch + "/empty.txt"]
        case "corpus-empty-directory":
            try FilePath.makeDirectories(scratch + "/texts/sub")
            arguments += ["--corpus", scratch + "/texts"]
        case "corpus-fifo":
            mkfifo(scratch + "/pipe", 0o644)
            arguments += ["--corpus", scratch + "/pipe"]
        case "corpus-dangling-link":
            symlink(scratch + "/gone", scratch + "/link.txt")
            arguments += ["--corpus", scratch + "/link.txt"]
        case "flag-type": arguments += ["--width", "wide"]
        default: arguments += ["--bogus", "1"]
        }
        let result = try runOlab(arguments + ["--out", out])
        #expect(result.status != 0)
        let lines = result.err.split(separator: "\n")
        #expect(lines.first.map { $0.lowercased().hasPrefix("error: ") && $0.contains(expected) } == true, "stderr: \(result.err)")
        if kind.hasPrefix("flag") {
            // Flag errors keep swift-argument-parser's usage status (64) but are one line too.
            #expect(result.status == 64 && lines.count == 1, "stderr: \(result.err)")
        } else {
            #expect(result.status == 2 && lines.count == 1, "stderr: \(result.err)")
        }
        #expect(!FilePath.exists(out))
    }

    // MARK: Unwritable and full disks

    @Test("an output path under a regular file (mkdir fails even for root): one line, nothing created")
    func outputUnderAFile() throws {
        let scratch = try scratchDirectory("under-file")
        try AtomicFile.write("I am a file\n", to: scratch + "/file")
        let result = try runOlab(["train"] + tinyModelFlags + ["--steps", "5", "--out", scratch + "/file/run"])
        #expect(result.status == 2)
        #expect(result.err == "error: cannot create directory \(scratch)/file: a file of that name exists\n")
        #expect(try listDirectory(scratch) == ["file"])
    }

    @Test("a read-only file system (tmpfs mounted ro): one line, nothing created", .enabled(if: TemporaryMount.available))
    func readOnlyFileSystem() throws {
        let mount = try TemporaryMount(options: "ro,size=1m")
        let result = try runOlab(["train"] + tinyModelFlags + ["--steps", "5", "--out", mount.path + "/run"])
        #expect(result.status == 2)
        #expect(result.err == "error: cannot create directory \(mount.path)/run: Read-only file system\n")
    }

    @Test("a full disk (file size limit, write gets EFBIG) while checkpointing: one line, checkpoint and metrics intact, resume completes")
    func fileSizeLimitDuringCheckpoint() throws {
        let directory = try scratchDirectory("efbig")
        let arguments = tinyModelFlags + ["--steps", "30", "--checkpoint-every", "10", "--log-every", "5"]
        #expect(try runOlab(["train"] + arguments + ["--out", directory + "/straight"]).status == 0)
        let run = directory + "/run"
        #expect(try runOlab(["train"] + arguments + ["--out", run, "--stop-after", "10"]).status == 0)
        let checkpoint = try FileBytes.read(run + "/checkpoint.safetensors")
        let metrics = try FileBytes.read(run + "/metrics.jsonl")
        // Metrics lines fit under the limit; a new checkpoint does not.
        let limited = try runOlab(["train", "--resume", run], fileSizeLimit: checkpoint.count / 2)
        #expect(limited.status == 2)
        // Progress lines come first (stderr is not a terminal); the error is the one last line.
        let errors = limited.err.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errors == ["error: step 20: cannot write \(run)/checkpoint.safetensors: File too large; the files already in \(run) are unchanged, continue with: olab train --resume \(run)"],
                "stderr: \(limited.err)")
        try expectBitwiseEqual(FileBytes.read(run + "/checkpoint.safetensors"), checkpoint, "checkpoint.safetensors")
        #expect(try FileBytes.read(run + "/metrics.jsonl").starts(with: metrics))
        #expect(try listDirectory(run).allSatisfy { !$0.contains(".tmp-") })
        #expect(try runOlab(["train", "--resume", run]).status == 0)
        try expectBitwiseEqual(FileBytes.read(directory + "/straight/model.safetensors"), FileBytes.read(run + "/model.safetensors"), "model.safetensors")
        try expectSameLines(metricsWithoutWallClock(directory + "/straight"), metricsWithoutWallClock(run), "metrics.jsonl without wall clock")
    }

    @Test("a full disk while appending to metrics.jsonl: the half-written line is removed, the logged lines are kept")
    func fileSizeLimitDuringMetricsAppend() throws {
        let directory = try scratchDirectory("efbig-metrics")
        let run = directory + "/run"
        let arguments = tinyModelFlags + ["--steps", "30", "--checkpoint-every", "10", "--log-every", "10"]
        #expect(try runOlab(["train"] + arguments + ["--out", run, "--stop-after", "10"]).status == 0)
        let metrics = try FileBytes.read(run + "/metrics.jsonl")
        // 64 bytes beyond the current file: the next line (hundreds of bytes) is cut short by the limit.
        let limited = try runOlab(["train", "--resume", run], fileSizeLimit: metrics.count + 64)
        #expect(limited.status == 2)
        #expect(limited.err.contains("cannot append to \(run)/metrics.jsonl: File too large; the lines already logged are kept"), "stderr: \(limited.err)")
        try expectBitwiseEqual(FileBytes.read(run + "/metrics.jsonl"), metrics, "metrics.jsonl")
    }

    @Test("a full tmpfs (ENOSPC) while checkpointing: checkpoint intact, no temporary files left", .enabled(if: TemporaryMount.available))
    func fullFileSystem() throws {
        let mount = try TemporaryMount(options: "size=1200k")
        let run = mount.path + "/run"
        // Wider than `tiny` so that a second checkpoint (next to the first, before the rename) cannot fit.
        let arguments = tinyModelFlags.map { $0 == "32" ? "48" : $0 } + ["--steps", "30", "--checkpoint-every", "10"]
        #expect(try runOlab(["train"] + arguments + ["--out", run, "--stop-after", "10"]).status == 0)
        let checkpoint = try FileBytes.read(run + "/checkpoint.safetensors")
        let result = try runOlab(["train", "--resume", run])
        #expect(result.status == 2)
        #expect(result.err.contains("step 20: cannot write \(run)/checkpoint.safetensors: No space left on device"), "stderr: \(result.err)")
        try expectBitwiseEqual(FileBytes.read(run + "/checkpoint.safetensors"), checkpoint, "checkpoint.safetensors")
        #expect(try listDirectory(run).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test("a new run that cannot write config.json leaves no directory behind")
    func newRunOnFullDisk() throws {
        let directory = try scratchDirectory("efbig-new")
        let result = try runOlab(["train"] + tinyModelFlags + ["--steps", "5", "--out", directory + "/a/b"], fileSizeLimit: 16)
        #expect(result.status == 2)
        #expect(result.err.contains("cannot write \(directory)/a/b/config.json: File too large"), "stderr: \(result.err)")
        #expect(try listDirectory(directory).isEmpty)
    }

    @Test("olab golden accept on a full disk leaves Goldens/ and the manifest as they were and keeps the candidates")
    func goldenAcceptOnFullDisk() throws {
        let (root, store) = try goldenPackage("golden-root")
        func sample(_ scale: Float) -> GoldenCase {
            GoldenCase(suite: "unit", name: "sample", kind: "kernel", seed: 1, tensors: [
                GoldenTensor(NamedTensor(name: "x", shape: [3], floats: [1, 2, 3].map { $0 * scale }), compare: .exact),
            ])
        }
        let original = sample(1)
        try Goldens.check(original, root: root, mode: .all)
        try AtomicFile.write("# Changelog\n\n## [Unreleased]\n- Goldens: \(original.id) — recorded\n", to: root + "/CHANGELOG.md")
        try store.accept(replay: .skipped)
        let golden = try FileBytes.read(store.goldenPath(original.relativePath))
        let manifest = try FileBytes.read(store.manifestPath)
        try Goldens.check(sample(2), root: root, mode: .all)
        try AtomicFile.write("# Changelog\n\n## [Unreleased]\n- Goldens: \(original.id) — rescaled\n", to: root + "/CHANGELOG.md")
        let result = try runOlab(["golden", "accept", "--root", root, "--skip-replay"], fileSizeLimit: 64)
        #expect(result.status == 2)
        #expect(result.err.contains("File too large"), "stderr: \(result.err)")
        try expectBitwiseEqual(FileBytes.read(store.goldenPath(original.relativePath)), golden, "golden file")
        try expectBitwiseEqual(FileBytes.read(store.manifestPath), manifest, "MANIFEST.json")
        #expect(FilePath.exists(store.candidatePath(original.relativePath)))
        #expect(try store.verifyTree().problems.isEmpty)
    }

    @Test("a full disk while accepting a new golden: the golden is not left in Goldens/, nothing else changes")
    func goldenAcceptNewOnFullDisk() throws {
        let (root, store) = try goldenPackage("golden-root-new")
        func sample(_ name: String) -> GoldenCase {
            GoldenCase(suite: "unit", name: name, kind: "kernel", seed: 1, tensors: [
                GoldenTensor(NamedTensor(name: "x", shape: [1], floats: [1]), compare: .exact),
            ])
        }
        // Enough accepted goldens that the manifest is larger than one golden file: the limit below lets
        // the new golden be written and makes the manifest write fail, the order that used to strand it.
        let existing = (0..<8).map { sample("accepted_case_with_a_long_name_\($0)") }
        for goldenCase in existing { try Goldens.check(goldenCase, root: root, mode: .all) }
        try AtomicFile.write("# Changelog\n\n## [Unreleased]\n- Goldens: " + existing.map(\.id).joined(separator: ", ") + " — recorded for the full-disk test\n", to: root + "/CHANGELOG.md")
        try store.accept(replay: .skipped)
        let added = sample("new")
        try Goldens.check(added, root: root, mode: .all)
        try AtomicFile.write("# Changelog\n\n## [Unreleased]\n- Goldens: \(added.id) — a new case for the full-disk test\n", to: root + "/CHANGELOG.md")
        let manifest = try FileBytes.read(store.manifestPath)
        let goldenSize = try FileBytes.read(store.candidatePath(added.relativePath)).count
        try #require(goldenSize < manifest.count)
        let listing = try FilePath.entries(of: store.goldensDirectory + "/unit")
        let result = try runOlab(["golden", "accept", "--root", root, "--skip-replay"], fileSizeLimit: goldenSize)
        #expect(result.status == 2)
        #expect(result.err.contains("cannot write \(store.manifestPath): File too large"), "stderr: \(result.err)")
        #expect(try FilePath.entries(of: store.goldensDirectory + "/unit") == listing)
        try expectBitwiseEqual(FileBytes.read(store.manifestPath), manifest, "MANIFEST.json")
        #expect(FilePath.exists(store.candidatePath(added.relativePath)))
        #expect(try store.verifyTree().problems.isEmpty)
    }
}

/// How a killed `olab` process ended.
enum KilledRun: Equatable { case killed, finished, failed(Int32) }

/// Runs `olab`, reads its per-step progress lines (log_every 1, not a terminal) and sends SIGKILL as
/// soon as it reports `step` or later.
func runOlabKilled(_ arguments: [String], atStep step: Int) throws -> KilledRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: olabExecutable)
    process.arguments = arguments
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    var text = ""
    var sent = false
    while true {
        let data = errors.fileHandleForReading.availableData
        if data.isEmpty { break }
        text += String(decoding: data, as: UTF8.self)
        let reached = text.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("step ") else { return nil }
            return Int(line.dropFirst(5).prefix { $0.isNumber })
        }.max() ?? 0
        if !sent && reached >= step {
            kill(process.processIdentifier, SIGKILL)
            sent = true
        }
    }
    process.waitUntilExit()
    if process.terminationReason == .uncaughtSignal { return .killed }
    return process.terminationStatus == 0 ? .finished : .failed(process.terminationStatus)
}

/// A scratch package root (a Package.swift and nothing else) and its golden store.
func goldenPackage(_ name: String) throws -> (root: String, store: GoldenStore) {
    let root = try scratchDirectory(name)
    try AtomicFile.write("// swift-tools-version: 6.0\n", to: root + "/Package.swift")
    return (root, GoldenStore(packageRoot: root))
}

/// Runs `olab` with RLIMIT_FSIZE set to `fileSizeLimit` bytes (util-linux `prlimit`) and SIGXFSZ
/// ignored (an ignored signal stays ignored across exec), so that a write past the limit fails with
/// EFBIG exactly as a write to a full disk fails with ENOSPC.
func runOlab(_ arguments: [String], fileSizeLimit: Int) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", "trap '' XFSZ; exec prlimit --fsize=\(fileSizeLimit) -- \"$0\" \"$@\"", olabExecutable] + arguments
    return try runToCompletion(process)
}

/// A tmpfs mounted for one test (needs CAP_SYS_ADMIN; tests using it are skipped where mount fails).
final class TemporaryMount {
    let path: String

    init(options: String) throws {
        path = try scratchDirectory("mount")
        guard Self.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path]) == 0 else {
            throw OutlierLabError("cannot mount a tmpfs at \(path)")
        }
    }

    deinit { _ = Self.run(["umount", path]); rmdir(path) }

    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, outside restrictive sandboxes).
    static let available: Bool = {
        guard let mount = try? TemporaryMount(options: "size=64k") else { return false }
        _ = mount
        return true
    }()

    private static func run(_ command: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
