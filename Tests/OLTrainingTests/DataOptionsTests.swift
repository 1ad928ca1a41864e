import Foundation
import OLData
import OLModel
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

/// The config keys of issue 28 (`bos`, `crop_align`, `final_lr_fraction`): how they read, validate and
/// serialise, that they leave every default config's bytes and cache key where they were, and that a
/// BOS model trains, resumes, evaluates and quantises from the command line.
@Suite("data options and the schedule floor", .serialized)
struct DataOptionsTests {
    /// The cache key of `TrainingConfig()` on the synthetic corpus as commit 152c458 (before these keys
    /// existed) computes it: the SHA-256 of the JSON below, which is that commit's 40 keys in its order,
    /// serialised as `JSONValue.serialized()` writes them (json-c plain, shortest round-trip doubles),
    /// with the corpus replaced by its fingerprint.
    static let defaultCacheKey = "d84dbfe5447b1432281e4fa6dd4bb769bd06ba821f5bf9c38c36da528590e311"
    static let defaultKeyedJSON = #"{"block":"preLN","width":64,"layers":2,"heads":4,"seq":64,"activation":"relu","tied_head":true,"final_norm":null,"beta_init":null,"trainable_beta":true,"soft_cap":null,"init_std":0.02,"optimizer":"adamw","lr":null,"beta1":null,"beta2":null,"eps":null,"eps_convention":null,"weight_decay":null,"momentum":null,"nesterov":null,"precondition_frequency":null,"shampoo_beta":null,"precondition_embeddings":true,"warmup_fraction":0.05,"schedule":"linear","grad_clip":1.0,"steps":200,"batch":8,"seed":0,"corpus":"synthetic","synthetic_bytes":1048576,"train_fraction":0.95,"log_every":10,"checkpoint_every":100,"eval_windows":16,"probe_batch":4,"metrics":true,"linear_taps":false,"kurtosis_decomposition":false}"#

    @Test("the cache key of the default config has not moved since the data options were added")
    func defaultCacheKeyIsPinned() {
        #expect(SHA256.hex(Array(Self.defaultKeyedJSON.utf8)) == Self.defaultCacheKey, "the pinned JSON is the hashed text")
        #expect(RunSpec.cacheKey(TrainingConfig(), corpusFingerprint: "synthetic") == Self.defaultCacheKey)
    }

    @Test("a config using a new key has a cache key of its own, and the default config lists none of them")
    func newKeysAppearOnlyWhenUsed() throws {
        let keys = TrainingConfig().json.objectMembers!.map(\.key)
        #expect(!keys.contains("bos") && !keys.contains("crop_align") && !keys.contains("final_lr_fraction"))
        var config = TrainingConfig()
        config.finalLRFraction = 0.1
        #expect(config.json["final_lr_fraction"] == .double(0.1))
        #expect(RunSpec.cacheKey(config, corpusFingerprint: "synthetic") != Self.defaultCacheKey)
        #expect(config.nonDefaultJSON.objectMembers?.map(\.key) == ["final_lr_fraction"])
    }

    @Test("bos makes the vocabulary 257 whatever model is assigned, and the keys survive JSON and back")
    func bosSetsTheVocabulary() throws {
        var config = try TrainingConfig(json: try JSONValue.parse(#"{"bos": true, "crop_align": "line", "final_lr_fraction": 0.1, "schedule": "cosine"}"#))
        #expect(config.model.vocab == 257 && config.tokenLayout == TokenLayout(bos: true, cropAlign: .line))
        config.model = ModelConfig(width: 32, layers: 1, heads: 2, seq: 16)
        #expect(config.model.vocab == 257, "assigning a model keeps the vocabulary bos implies")
        #expect(try TrainingConfig(json: try JSONValue.parse(config.json.serialized())) == config)
        #expect(config.model.parameterLayout().specs.first { $0.name == "wte" }?.shape == [257, 32])
        config.bos = false
        #expect(config.model.vocab == 256)
        let schedule = try config.learningRateSchedule()
        // Cosine to 10 %: the floor one step past the last, as LearningRateSchedule documents; cos(π) = −1
        // exactly, so the only rounding is peak × 0.1 (≤ 1 ulp of 1e-4 ≈ 1.4e-20, well inside 1e-18).
        #expect(schedule.finalFraction == 0.1 && abs(schedule.rate(at: config.steps) - 0.1e-3) <= 1e-18)
    }

    @Test("bad values of the new keys are one line naming the key", arguments: [
        (#"{"crop_align": "word"}"#, "crop_align must be one of none|line, got 'word'"),
        (#"{"final_lr_fraction": 2}"#, "final_lr_fraction must be in [0, 1]"),
        (#"{"final_lr_fraction": -0.1}"#, "final_lr_fraction must be in [0, 1]"),
        (#"{"bos": 1}"#, "bos must be true or false"),
    ])
    func rejectsBadValues(text: String, expected: String) throws {
        do {
            _ = try TrainingConfig(json: try JSONValue.parse(text), source: "run.json")
            Issue.record("expected an error containing \(expected)")
        } catch let error as OutlierLabError {
            #expect(error.message.hasPrefix("run.json: ") && error.message.contains(expected) && !error.message.contains("\n"), "got: \(error.message)")
        }
    }

    @Test("olab train --bos --crop-align line trains, resumes bitwise, evaluates and quantises a 257-row model")
    func bosRunTrainsResumesAndQuantises() throws {
        let directory = try scratchDirectory("cli-bos")
        let arguments = ["train"] + tinyModelFlags + ["--bos", "--crop-align", "line", "--schedule", "cosine",
                                                             "--final-lr-fraction", "0.1", "--steps", "30", "--checkpoint-every", "10"]
        let straight = try runOlab(arguments + ["--out", directory + "/straight"])
        try #require(straight.status == 0, "stderr: \(straight.err)")
        let stopped = try runOlab(arguments + ["--stop-after", "20", "--out", directory + "/resumed"])
        try #require(stopped.status == 0, "stderr: \(stopped.err)")
        let resumed = try runOlab(["train", "--resume", directory + "/resumed"])
        try #require(resumed.status == 0, "stderr: \(resumed.err)")
        let model = directory + "/straight/model.safetensors"
        try expectBitwiseEqual(FileBytes.read(model), FileBytes.read(directory + "/resumed/model.safetensors"), "model.safetensors")
        try expectSameLines(metricsWithoutWallClock(directory + "/straight"), metricsWithoutWallClock(directory + "/resumed"), "metrics.jsonl")

        let checkpoint = try Checkpoint.read(model)
        #expect(checkpoint.config.bos && checkpoint.config.cropAlign == .line && checkpoint.config.finalLRFraction == 0.1)
        #expect(checkpoint.parameters.first { $0.name == "wte" }?.shape == [257, 32])
        #expect(try Safetensors.read(model).metadata["vocab"] == "257")
        let lrs = try FileBytes.readText(directory + "/straight/metrics.jsonl").split(separator: "\n").compactMap { try JSONValue.parse(String($0))["lr"]?.doubleValue }
        // The last logged rate is the cosine floor's neighbourhood, never below 10 % of the 1e-3 peak.
        #expect(lrs.allSatisfy { $0 >= 1e-4 }, "\(lrs)")

        let evaluated = try runOlab(["eval", "--checkpoint", model, "--quant", "w8a8-static", "--bits", "8"])
        try #require(evaluated.status == 0, "stderr: \(evaluated.err)")
        let file = directory + "/q.safetensors"
        let exported = try runOlab(["quantize", "--checkpoint", model, "--scheme", "w8a8-naive", "--out", file])
        try #require(exported.status == 0, "stderr: \(exported.err)")
        #expect(try Safetensors.read(file).metadata["vocab"] == "257")
        let reloaded = try runOlab(["eval", "--checkpoint", file])
        try #require(reloaded.status == 0, "stderr: \(reloaded.err)")
        #expect(try JSONValue.parse(reloaded.out)["matches_recorded"] == .bool(true))
    }

    @Test("a checkpoint without vocab metadata reads as 256, and one whose vocab disagrees with its config is refused")
    func checkpointVocabularyMetadata() throws {
        let directory = try scratchDirectory("vocab-metadata")
        let trainer = try Trainer(config: try tinyConfig(steps: 10), directory: directory + "/run")
        try trainer.run()
        let path = directory + "/run/model.safetensors"
        let contents = try Safetensors.read(path)
        #expect(contents.metadata["vocab"] == "256")
        var old = contents.metadata
        old["vocab"] = nil
        try Safetensors.write(contents.tensors, metadata: old, to: directory + "/old.safetensors")
        #expect(try Checkpoint.read(directory + "/old.safetensors").config.model.vocab == 256)
        var wrong = contents.metadata
        wrong["vocab"] = "257"
        try Safetensors.write(contents.tensors, metadata: wrong, to: directory + "/wrong.safetensors")
        do {
            _ = try Checkpoint.read(directory + "/wrong.safetensors")
            Issue.record("a vocab that disagrees with the config must be refused")
        } catch let error as OutlierLabError {
            #expect(error.message == "\(directory)/wrong.safetensors: metadata vocab 257 disagrees with its config (bos false: vocabulary 256)")
        }
    }
}
