import OLCore
import OLData
import OLModel
import OLOptimizers

/// A training checkpoint in safetensors form (<doc:Training>): model parameters under their layout names
/// (`wte`, `h0.attn.qkv`, ...), optimiser state (`opt.<param>.<field>`), the batch sampler's state
/// (`data.*`) and the step (`train.step`, int64); the config rides in the metadata as JSON, with the
/// SHA-256 of the corpus the run trains on (`corpus_sha256`) and of the tensors (`tensors_sha256`, see
/// `tensorsDigest`). Both digests are required. `vocab` states the vocabulary size (the rows of `wte`):
/// 257 with a BOS token; a checkpoint without it is 256, as every checkpoint before BOS was. Nothing time-dependent is stored, so the same run writes
/// the same bytes.
///
/// Format version 2 made the digests mandatory and extended the tensor digest from the data buffer to
/// the tensor table; version 1 checkpoints are refused.
public struct Checkpoint {
    public static let format = "outlierlab-checkpoint"
    public static let formatVersion = "2"

    public var config: TrainingConfig
    public var step: Int
    public var parameters: [NamedTensor]
    public var optimizerState: [NamedTensor]
    public var sampler: BatchSamplerState
    /// Other trainer state that must survive a resume (`train.*` tensors besides `train.step`), such as
    /// the running kurtosis-update totals.
    public var trainingState: [NamedTensor]
    /// SHA-256 of the corpus bytes the run trains on (`ByteCorpus.sha256`): resume, `eval` and `metrics`
    /// refuse a corpus that changed since.
    public var corpusSHA256: String

    /// The checkpoint of a live run.
    public init(config: TrainingConfig, step: Int, parameters: FloatArena, optimizer: any Optimizer, sampler: BatchSamplerState,
                trainingState: [NamedTensor] = [], corpusSHA256: String) {
        self.config = config
        self.corpusSHA256 = corpusSHA256
        self.step = step
        self.parameters = parameters.layout.specs.enumerated().map { index, spec in
            NamedTensor(name: spec.name, shape: spec.shape, floats: Array(parameters.view(index)))
        }
        optimizerState = optimizer.exportState()
        self.sampler = sampler
        self.trainingState = trainingState
    }

    /// Writes the checkpoint atomically, with `tensors_sha256` and `corpus_sha256` in the metadata, so
    /// that a flipped bit, a swapped tensor-table entry or a changed corpus is caught on reading instead
    /// of resuming silently.
    public func write(to path: String) throws {
        let tensors = parameters + optimizerState + sampler.tensors(prefix: "data")
            + [NamedTensor(name: "train.step", shape: [1], values: .int64([Int64(step)]))] + trainingState
        let metadata = [
            "format": Self.format,
            "format_version": Self.formatVersion,
            "harness_version": Harness.version,
            "config": config.json.serialized(),
            "corpus_sha256": corpusSHA256,
            "tensors_sha256": try Self.tensorsDigest(tensors),
            "vocab": String(config.model.vocab),
        ]
        try Safetensors.write(tensors, metadata: metadata, to: path)
    }

    /// SHA-256 of the tensors as a reader sees them: the safetensors encoding, without metadata, of the
    /// tensors sorted by name. It covers every name, dtype, shape and value, and which bytes belong to
    /// which name, so a header whose `data_offsets` were swapped between two tensors no longer matches.
    public static func tensorsDigest(_ tensors: [NamedTensor]) throws -> String {
        let sorted = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return SHA256.hex(try Safetensors.encode(sorted, metadata: [:], source: "checkpoint digest"))
    }

    /// Reads and checks a checkpoint: format, tensor and corpus digests, config (and that its model fits in memory),
    /// every parameter of the config's layout with the right shape and finite values, no tensor the
    /// layout does not know, the step within the schedule, the sampler state. Problems are one line
    /// naming the file.
    public static func read(_ path: String) throws -> Checkpoint {
        let bytes = try FileBytes.read(path)
        let contents = try Safetensors.decode(bytes, source: path)
        guard contents.metadata["format"] == format else {
            throw OutlierLabError("\(path): not an OutlierLab checkpoint (metadata format is \(contents.metadata["format"] ?? "missing"))")
        }
        guard contents.metadata["format_version"] == formatVersion else {
            let found = (contents.metadata["format_version"] ?? "?").escapingControlCharacters
            let hint = found == "1" ? "; version 1 checkpoints carry no tensor-table or corpus digest, so they cannot be verified: retrain the run" : ""
            throw OutlierLabError("\(path): checkpoint format version \(String(found.prefix(20))) is not supported (this build reads \(formatVersion))\(hint)")
        }
        guard let recorded = contents.metadata["tensors_sha256"], recorded.count == 64 else {
            throw OutlierLabError("\(path): checkpoint has no tensors_sha256 digest; it cannot be checked and is refused")
        }
        let actual = try tensorsDigest(contents.tensors)
        guard actual == recorded else {
            throw OutlierLabError("\(path): tensor SHA-256 \(actual.prefix(12))… does not match the recorded \(String(recorded.prefix(12)).escapingControlCharacters)…: the checkpoint is corrupted")
        }
        guard let corpusSHA256 = contents.metadata["corpus_sha256"], corpusSHA256.count == 64,
              corpusSHA256.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw OutlierLabError("\(path): checkpoint has no valid corpus_sha256 digest of the data it trained on")
        }
        guard let configText = contents.metadata["config"] else { throw OutlierLabError("\(path): checkpoint has no config") }
        let config = try TrainingConfig(json: try JSONValue.parse(configText, source: path + " config"), source: path + " config")
        try requireVocabulary(contents.metadata, config: config, path: path)
        var byName: [String: NamedTensor] = [:]
        for tensor in contents.tensors { byName[tensor.name] = tensor }
        var parameters: [NamedTensor] = []
        let layout = config.model.parameterLayout()
        for spec in layout.specs {
            guard let tensor = byName[spec.name] else { throw OutlierLabError("\(path): parameter \(spec.name) is missing (the checkpoint does not fit its config)") }
            guard tensor.shape == spec.shape, let values = tensor.floats else {
                throw OutlierLabError("\(path): parameter \(spec.name) has shape \(tensor.shape) \(tensor.values.dtype), expected \(spec.shape) F32 (the checkpoint does not fit its config)")
            }
            guard values.allSatisfy(\.isFinite) else { throw OutlierLabError("\(path): parameter \(spec.name) holds a NaN or infinity") }
            parameters.append(tensor)
        }
        let known = Set(layout.specs.map(\.name))
        if let stranger = contents.tensors.first(where: { !known.contains($0.name) && !$0.name.hasPrefix("opt.") && !$0.name.hasPrefix("data.") && !$0.name.hasPrefix("train.") }) {
            throw OutlierLabError("\(path): tensor \(stranger.name) is not a parameter of its config's model (the checkpoint does not fit its config)")
        }
        guard let stepTensor = byName["train.step"], stepTensor.shape == [1], let step = stepTensor.int64s?.first, step >= 0 else {
            throw OutlierLabError("\(path): checkpoint has no valid train.step")
        }
        guard step <= config.steps else {
            throw OutlierLabError("\(path): train.step \(step) is past the end of its \(config.steps)-step schedule")
        }
        let sampler: BatchSamplerState
        do {
            sampler = try BatchSamplerState(tensors: contents.tensors.filter { $0.name.hasPrefix("data.") }, prefix: "data")
        } catch let error as OutlierLabError {
            throw OutlierLabError("\(path): \(error.message)")
        }
        return Checkpoint(config: config, step: Int(step), parameters: parameters,
                          optimizerState: contents.tensors.filter { $0.name.hasPrefix("opt.") }, sampler: sampler,
                          trainingState: contents.tensors.filter { $0.name.hasPrefix("train.") && $0.name != "train.step" },
                          corpusSHA256: corpusSHA256)
    }

    private init(config: TrainingConfig, step: Int, parameters: [NamedTensor], optimizerState: [NamedTensor], sampler: BatchSamplerState,
                 trainingState: [NamedTensor], corpusSHA256: String) {
        self.config = config
        self.corpusSHA256 = corpusSHA256
        self.step = step
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.sampler = sampler
        self.trainingState = trainingState
    }

    /// Checks the `vocab` metadata against the config's (its `bos`); a file without it is 256, from before BOS.
    static func requireVocabulary(_ metadata: [String: String], config: TrainingConfig, path: String) throws {
        let recorded = metadata["vocab"] ?? String(TokenLayout.vocabulary(bos: false))
        guard recorded == String(config.model.vocab) else {
            throw OutlierLabError("\(path): metadata vocab \(String(recorded.prefix(20)).escapingControlCharacters) disagrees with its config (bos \(config.bos): vocabulary \(config.model.vocab))")
        }
    }

    /// Copies the parameters into an arena of the config's layout.
    public func loadParameters(into arena: FloatArena) {
        for tensor in parameters {
            _ = arena.view(tensor.name).update(fromContentsOf: tensor.floats!)
        }
    }
}
