import OLCore
import OLData
import OLModel
import OLOptimizers

/// A training checkpoint in safetensors form (SPEC §4): model parameters under their layout names
/// (`wte`, `h0.attn.qkv`, ...), optimiser state (`opt.<param>.<field>`), the batch sampler's state
/// (`data.*`) and the step (`train.step`, int64); the config rides in the metadata as JSON. Nothing
/// time-dependent is stored, so the same run writes the same bytes.
public struct Checkpoint {
    public static let format = "outlierlab-checkpoint"
    public static let formatVersion = "1"

    public var config: TrainingConfig
    public var step: Int
    public var parameters: [NamedTensor]
    public var optimizerState: [NamedTensor]
    public var sampler: BatchSamplerState
    /// Other trainer state that must survive a resume (`train.*` tensors besides `train.step`), such as
    /// the running kurtosis-update totals.
    public var trainingState: [NamedTensor]

    /// The checkpoint of a live run.
    public init(config: TrainingConfig, step: Int, parameters: FloatArena, optimizer: any Optimizer, sampler: BatchSamplerState,
                trainingState: [NamedTensor] = []) {
        self.config = config
        self.step = step
        self.parameters = parameters.layout.specs.enumerated().map { index, spec in
            NamedTensor(name: spec.name, shape: spec.shape, floats: Array(parameters.view(index)))
        }
        optimizerState = optimizer.exportState()
        self.sampler = sampler
        self.trainingState = trainingState
    }

    /// Writes the checkpoint atomically. The metadata carries `data_sha256`, the SHA-256 of the data
    /// buffer, so that a bit flip in a tensor is caught on reading instead of resuming silently.
    public func write(to path: String) throws {
        let tensors = parameters + optimizerState + sampler.tensors(prefix: "data")
            + [NamedTensor(name: "train.step", shape: [1], values: .int64([Int64(step)]))] + trainingState
        var metadata = [
            "format": Self.format,
            "format_version": Self.formatVersion,
            "harness_version": Harness.version,
            "config": config.json.serialized(),
        ]
        // Tensor data never depends on the metadata, so the digest of a first encoding holds for the second.
        metadata["data_sha256"] = SHA256.hex(Self.dataBuffer(try Safetensors.encode(tensors, metadata: metadata, source: path)))
        try Safetensors.write(tensors, metadata: metadata, to: path)
    }

    /// The data buffer of safetensors bytes that have already been validated.
    private static func dataBuffer(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        return bytes[(8 + headerLength)...]
    }

    /// Reads and checks a checkpoint: format, data checksum, config (and that its model fits in memory),
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
            throw OutlierLabError("\(path): checkpoint format version \(contents.metadata["format_version"] ?? "?") is not supported (this build reads \(formatVersion))")
        }
        if let recorded = contents.metadata["data_sha256"] {
            let actual = SHA256.hex(dataBuffer(bytes))
            guard actual == recorded else {
                throw OutlierLabError("\(path): tensor data SHA-256 \(actual.prefix(12))… does not match the recorded \(recorded.prefix(12))…: the checkpoint is corrupted")
            }
        }
        guard let configText = contents.metadata["config"] else { throw OutlierLabError("\(path): checkpoint has no config") }
        let config = try TrainingConfig(json: try JSONValue.parse(configText, source: path + " config"), source: path + " config")
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
                          trainingState: contents.tensors.filter { $0.name.hasPrefix("train.") && $0.name != "train.step" })
    }

    private init(config: TrainingConfig, step: Int, parameters: [NamedTensor], optimizerState: [NamedTensor], sampler: BatchSamplerState,
                 trainingState: [NamedTensor]) {
        self.config = config
        self.step = step
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.sampler = sampler
        self.trainingState = trainingState
    }

    /// Copies the parameters into an arena of the config's layout.
    public func loadParameters(into arena: FloatArena) {
        for tensor in parameters {
            _ = arena.view(tensor.name).update(fromContentsOf: tensor.floats!)
        }
    }
}
