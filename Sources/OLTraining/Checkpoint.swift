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

    /// The checkpoint of a live run.
    public init(config: TrainingConfig, step: Int, parameters: FloatArena, optimizer: any Optimizer, sampler: BatchSamplerState) {
        self.config = config
        self.step = step
        self.parameters = parameters.layout.specs.enumerated().map { index, spec in
            NamedTensor(name: spec.name, shape: spec.shape, floats: Array(parameters.view(index)))
        }
        optimizerState = optimizer.exportState()
        self.sampler = sampler
    }

    public func write(to path: String) throws {
        let tensors = parameters + optimizerState + sampler.tensors(prefix: "data")
            + [NamedTensor(name: "train.step", shape: [1], values: .int64([Int64(step)]))]
        try Safetensors.write(tensors, metadata: [
            "format": Self.format,
            "format_version": Self.formatVersion,
            "harness_version": Harness.version,
            "config": config.json.serialized(),
        ], to: path)
    }

    /// Reads and checks a checkpoint: format, config, every parameter of the config's layout with the
    /// right shape, the step. Problems are one line naming the file.
    public static func read(_ path: String) throws -> Checkpoint {
        let contents = try Safetensors.read(path)
        guard contents.metadata["format"] == format else {
            throw OutlierLabError("\(path): not an OutlierLab checkpoint (metadata format is \(contents.metadata["format"] ?? "missing"))")
        }
        guard contents.metadata["format_version"] == formatVersion else {
            throw OutlierLabError("\(path): checkpoint format version \(contents.metadata["format_version"] ?? "?") is not supported (this build reads \(formatVersion))")
        }
        guard let configText = contents.metadata["config"] else { throw OutlierLabError("\(path): checkpoint has no config") }
        let config = try TrainingConfig(json: try JSONValue.parse(configText, source: path + " config"), source: path + " config")
        var byName: [String: NamedTensor] = [:]
        for tensor in contents.tensors { byName[tensor.name] = tensor }
        var parameters: [NamedTensor] = []
        for spec in config.model.parameterLayout().specs {
            guard let tensor = byName[spec.name] else { throw OutlierLabError("\(path): parameter \(spec.name) is missing") }
            guard tensor.shape == spec.shape, tensor.floats != nil else {
                throw OutlierLabError("\(path): parameter \(spec.name) has shape \(tensor.shape) \(tensor.values.dtype), expected \(spec.shape) F32")
            }
            parameters.append(tensor)
        }
        guard let stepTensor = byName["train.step"], let step = stepTensor.int64s?.first, step >= 0 else {
            throw OutlierLabError("\(path): checkpoint has no valid train.step")
        }
        let sampler = try BatchSamplerState(tensors: contents.tensors.filter { $0.name.hasPrefix("data.") }, prefix: "data")
        return Checkpoint(config: config, step: Int(step), parameters: parameters,
                          optimizerState: contents.tensors.filter { $0.name.hasPrefix("opt.") }, sampler: sampler)
    }

    private init(config: TrainingConfig, step: Int, parameters: [NamedTensor], optimizerState: [NamedTensor], sampler: BatchSamplerState) {
        self.config = config
        self.step = step
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.sampler = sampler
    }

    /// Copies the parameters into an arena of the config's layout.
    public func loadParameters(into arena: FloatArena) {
        for tensor in parameters {
            _ = arena.view(tensor.name).update(fromContentsOf: tensor.floats!)
        }
    }
}
