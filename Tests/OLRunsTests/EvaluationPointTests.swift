import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

/// A tiny run measured along the way at steps 4 and 8 of 12, with the naive 8-bit evaluation requested.
private func tinyConfig(evalAt: [Int] = []) throws -> TrainingConfig {
    var config = try TrainingConfig(json: try JSONValue.parse("""
        {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 12, "log_every": 4, "checkpoint_every": 0,
         "eval_windows": 4, "probe_batch": 2, "synthetic_bytes": 65536, "lr": 0.01}
        """))
    config.evalAt = evalAt
    return config
}

private func spec(_ config: TrainingConfig) -> RunSpec {
    RunSpec(key: RunSpec.cacheKey(config, corpusFingerprint: RunSpec.syntheticFingerprint), config: config,
            quantisations: [QuantRequest(scheme: "w8a8-naive", bits: 8)], label: "test")
}

/// `metrics.jsonl` without its wall-clock field: what two runs of the same training must agree on bitwise.
private func loggedValues(_ directory: String) throws -> [JSONValue] {
    try FileBytes.readText(directory + "/metrics.jsonl").split(separator: "\n").map { line in
        .object((try JSONValue.parse(String(line)).objectMembers ?? []).filter { $0.key != "tokens_per_s" })
    }
}

private func tensorsDigest(_ path: String) throws -> String? {
    try Safetensors.decode(try FileBytes.read(path), source: path).metadata["tensors_sha256"]
}

@Suite("Evaluations along the way (eval_at) and the cache key of keys at their default")
struct EvaluationPointTests {
    @Test("the default config keeps the cache key it had at commit 152c458, before eval_at and diagnostics existed")
    func pinnedDefaultKey() {
        // Computed from 152c458's code: SHA-256 of the default config's compact JSON with the synthetic corpus.
        #expect(RunSpec.cacheKey(TrainingConfig(), corpusFingerprint: RunSpec.syntheticFingerprint)
                == "d84dbfe5447b1432281e4fa6dd4bb769bd06ba821f5bf9c38c36da528590e311")
    }

    @Test("eval_at and diagnostics at their default leave the cache key alone; set, they are part of it")
    func keysAtDefault() throws {
        let base = try tinyConfig()
        let key = RunSpec.cacheKey(base, corpusFingerprint: "synthetic")
        let spelledOut = try TrainingConfig(json: .object((base.json.objectMembers ?? []).filter { !TrainingConfig.keysAddedWithPreservingDefault.contains($0.key) }
                                                           + [JSONMember("eval_at", .array([])), JSONMember("diagnostics", .bool(false))]))
        #expect(RunSpec.cacheKey(spelledOut, corpusFingerprint: "synthetic") == key)
        var measured = base
        measured.evalAt = [4]
        var diagnosed = base
        diagnosed.diagnostics = true
        #expect(Set([key, RunSpec.cacheKey(measured, corpusFingerprint: "synthetic"), RunSpec.cacheKey(diagnosed, corpusFingerprint: "synthetic")]).count == 3)
    }

    @Test("eval_at outside the schedule, unsorted or repeated is refused with one line naming the key", arguments: [
        ("[0, 4]", "strictly between 0 and steps"), ("[4, 12]", "strictly between 0 and steps"),
        ("[8, 4]", "increasing order"), ("[4, 4]", "increasing order"), ("4", "eval_at must be a list"), ("[1.5]", "eval_at must be an integer"),
    ])
    func badEvalAt(value: String, expected: String) throws {
        do {
            _ = try TrainingConfig(json: try JSONValue.parse(#"{"steps": 12, "eval_at": \#(value)}"#))
            Issue.record("accepted eval_at \(value)")
        } catch let error as OutlierLabError {
            #expect(error.message.contains(expected) && error.message.contains("eval_at"), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    @Test("measuring along the way leaves the training bits unchanged and records every point with its tokens")
    func sameBits() throws {
        let runs = try scratchDirectory("eval-at")
        let plain = spec(try tinyConfig()), measured = spec(try tinyConfig(evalAt: [4, 8]))
        for spec in [plain, measured] { _ = try RunExecution.execute(spec, runs: runs) }
        let plainDirectory = RunSpec.directory(plain.key, in: runs), measuredDirectory = RunSpec.directory(measured.key, in: runs)
        let digest = try tensorsDigest(plainDirectory + "/" + Trainer.finalName)
        let measuredDigest = try tensorsDigest(measuredDirectory + "/" + Trainer.finalName)
        #expect(digest != nil && digest == measuredDigest,
                "parameters, optimiser state and data cursor are bitwise those of the run without eval_at")
        let (plainLog, measuredLog) = (try loggedValues(plainDirectory), try loggedValues(measuredDirectory))
        #expect(plainLog == measuredLog, "every logged value, bitwise")
        let (plainQuant, measuredQuant) = (try FileBytes.readText(plainDirectory + "/quant-w8a8-naive-8bit.json"),
                                           try FileBytes.readText(measuredDirectory + "/quant-w8a8-naive-8bit.json"))
        #expect(plainQuant == measuredQuant, "the final quantised evaluation, to the last digit")
        #expect(!FilePath.exists(plainDirectory + "/" + EvaluationPoint.fileName), "nothing is measured along the way when eval_at is off")

        let points = try EvaluationPoint.load(measuredDirectory)
        #expect(points.map(\.step) == [4, 8])
        #expect(points.map(\.tokens) == [4 * 4 * 16, 8 * 4 * 16], "tokens seen = step · batch · seq")
        // The float point is the trainer's validation loss on the model of that step: a run stopped there
        // computes the same value from the same bits.
        let reference = try Trainer(config: try tinyConfig(), directory: runs + "/reference")
        try reference.run(stopAfter: 4)
        let referenceLoss = try reference.validationLoss()
        #expect(points[0].validationLoss == referenceLoss, "same model bits, same windows: the same Double")
        let quantised = try #require(points[0].quantised[QuantRequest(scheme: "w8a8-naive", bits: 8)])
        // 8-bit naive quantisation moves a tiny model's perplexity by well under 5 % (measured: < 0.5 %).
        #expect(abs(quantised.quantisedPPL / quantised.floatPPL - 1) < 0.05)
        guard case .finished(let record, _)? = try RunExecution.outcome(of: measured, runs: runs, cached: true) else {
            Issue.record("the measured run is not done"); return
        }
        #expect(record.evaluations == points)
        #expect(RunExecution.sealedNames(measuredDirectory).contains(EvaluationPoint.fileName), "the seal covers evaluations.jsonl")
    }

    @Test("a run killed after a point's checkpoint, or between points, resumes without redoing or losing a point")
    func resumedRuns() throws {
        let runs = try scratchDirectory("eval-at-resume")
        let config = try tinyConfig(evalAt: [4, 8])
        let whole = spec(config)
        _ = try RunExecution.execute(whole, runs: runs)
        let expected = try FileBytes.readText(RunSpec.directory(whole.key, in: runs) + "/" + EvaluationPoint.fileName)
        let firstLine = String(expected.prefix { $0 != "\n" }) + "\n"

        // Killed after the checkpoint of step 4, before its measurement; and killed at step 6, after step 4 was recorded.
        for (stop, recorded) in [(4, ""), (6, firstLine)] {
            let other = try scratchDirectory("eval-at-resume-\(stop)")
            let directory = RunSpec.directory(whole.key, in: other)
            do {
                let trainer = try Trainer(config: config, directory: directory)
                try trainer.run(stopAfter: stop)
            }
            if !recorded.isEmpty { try AtomicFile.write(recorded, to: directory + "/" + EvaluationPoint.fileName) }
            var lines: [String] = []
            _ = try RunExecution.execute(whole, runs: other, announce: { lines.append($0) })
            #expect(lines.contains("resuming at step \(stop) of 12"), "\(lines)")
            #expect(lines.filter { $0.hasPrefix("step 4 ") }.count == (recorded.isEmpty ? 1 : 0), "step 4 is measured once: \(lines)")
            let resumed = try FileBytes.readText(directory + "/" + EvaluationPoint.fileName)
            #expect(resumed == expected, "the same points, bitwise, as the uninterrupted run")
        }
    }
}
