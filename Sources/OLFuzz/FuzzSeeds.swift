import OLAudit
import OLCore
import OLGoldens
import OLTraining

/// Valid inputs the mutations start from: small, but covering every dtype, compare mode and config key.
enum FuzzSeeds {
    static func inputs(for target: Fuzzer.Target, flags: Fuzzer.ExternalTarget?) throws -> [[UInt8]] {
        switch target {
        case .safetensors: return try safetensors()
        case .golden: return try goldens()
        case .config: return configs()
        case .manifest: return manifests()
        case .flags:
            guard let flags, !flags.seeds.isEmpty else { throw OutlierLabError("fuzz flags: the command line gives its seeds and check") }
            return flags.seeds
        case .grid: return grids()
        case .registry: return try registries()
        }
    }

    static func manifests() -> [[UInt8]] {
        let entry = #"{"sha256": "\#(String(repeating: "ab", count: 32))", "format_version": 1, "harness_version": "0.1.0"}"#
        return [
            #"{"manifest_version": 1, "goldens": {}}"#,
            #"{"manifest_version": 1, "goldens": {"kernels/ln.golden.gz": \#(entry), "train/tiny.run.golden.gz": \#(entry)}}"#,
            #"{"manifest_version": 1, "goldens": {"quant/w8a8/naive.golden.gz": \#(entry)}}"#,
        ].map { Array($0.utf8) }
    }

    static func tensors() -> [NamedTensor] {
        [
            NamedTensor(name: "wte", shape: [4, 3], floats: (0..<12).map { Float($0) * 0.25 - 1 }),
            NamedTensor(name: "h0.attn.qkv", shape: [2, 2], values: .float64([1, -2, .pi, 1e-300])),
            NamedTensor(name: "train.step", shape: [1], values: .int64([42])),
            NamedTensor(name: "data.rng", shape: [4], values: .int64([1, 2, 3, -4])),
            NamedTensor(name: "mask", shape: [5], values: .uint8([0, 1, 2, 254, 255])),
            NamedTensor(name: "scalar", shape: [], floats: [7]),
            NamedTensor(name: "empty", shape: [0, 4], floats: []),
        ]
    }

    static func safetensors() throws -> [[UInt8]] {
        let all = tensors()
        return [
            try Safetensors.encode(all, metadata: ["format": "outlierlab-checkpoint", "format_version": "1", "config": TrainingConfig().json.serialized()]),
            try Safetensors.encode(Array(all.prefix(2))),
            try Safetensors.encode([all[2]], metadata: ["note": "ünïcode ✓"]),
        ]
    }

    static func goldens() throws -> [[UInt8]] {
        let provenance = GoldenProvenance(harnessVersion: Harness.version, gitRevision: "abc1234", blasConfig: "OpenBLAS fuzz", blasCore: "Haswell", blasThreads: 2)
        let all = tensors()
        let modes: [CompareMode] = [.allclose(rtol: 1e-5, atol: 1e-6), .signCanonical(rtol: 1e-4, atol: 1e-5, axis: 1),
                                    .exact, .exact, .exact, .allclose(rtol: 0, atol: 0), .exact]
        let cases = [
            GoldenCase(suite: "kernels", name: "fuzz", kind: "kernel", config: .object(["width": 4, "lr": 1e-3, "block": "preLN"]), seed: 3,
                       tensors: zip(all, modes).map { GoldenTensor($0, compare: $1) }),
            GoldenCase(suite: "train", name: "tiny.run", kind: "training", config: TrainingConfig().json, seed: UInt64.max,
                       tensors: [GoldenTensor(all[0], compare: .allclose(rtol: 1e-6, atol: 1e-7))]),
        ]
        return try cases.map { try GoldenFile(goldenCase: $0, provenance: provenance).compressed(source: "seed") }
    }

    static func grids() -> [[UInt8]] {
        [#"{"base": {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 40}, "axes": {"block": ["preLN", "op"], "lr": [0.001, 0.01]}, "seeds": [0, 1], "quantisation": [{"scheme": "w8a8-naive", "bits": 4}]}"#,
         #"{"base": {"steps": 10}, "axes": {"optimizer": ["adamw", "soap", "sgd"]}, "seeds": [3]}"#,
         #"{"base": {}, "axes": {"eps": [1e-8, 1e-6, 0.0001], "beta2": [0.95, 0.999], "final_lr_fraction": [0, 0.1]}, "seeds": [0, 1, 2, 4]}"#]
            .map { Array($0.utf8) }
    }

    /// The bundled registry and a two-claim one.
    static func registries() throws -> [[UInt8]] {
        let tiny = #"{"base":{"width":16,"layers":2,"heads":2,"seq":16,"batch":4,"steps":40,"log_every":10,"checkpoint_every":0,"eval_windows":4,"probe_batch":2,"synthetic_bytes":65536,"optimizer":"adamw","lr":0.01},"scales":{"quick":{"seeds":[0,1]},"full":{"seeds":[0,1,2]}},"claims":[{"id":"op-lower","statement":"OP has lower kurtosis than Pre-LN","paper":"§3","paper_says":"OP ≪ Pre-LN","arms":[{"name":"Pre-LN","config":{}},{"name":"OP","config":{"block":"op"}}],"metric":{"series":"kurtosis","excess":true,"steps":"tail_mean"},"predicate":{"kind":"ratio","pairs":[["Pre-LN","OP"]],"at_least":1.0}},{"id":"quant","statement":"kurtosis tracks quantisation damage","paper":"§6","paper_says":"rank correlation","arms":[{"name":"Pre-LN","config":{}},{"name":"OP","config":{"block":"op"}},{"name":"Pre-LN small lr","config":{"lr":0.001}}],"metric":{"series":"kurtosis"},"against":{"quantised":"delta_ppl","scheme":"w8a8-naive","bits":4},"predicate":{"kind":"spearman","at_least":0.5}}]}"#
        guard let bundled = try? FileBytes.read(try ClaimRegistry.bundledPath()) else { return [Array(tiny.utf8)] }
        return [Array(tiny.utf8), bundled]
    }

    static func configs() -> [[UInt8]] {
        var soap = TrainingConfig()
        soap.optimizerKind = .soap
        soap.model.block = .op
        soap.beta2 = 0.99
        soap.preconditionFrequency = 10
        soap.shampooBeta = 0.9
        var sgd = TrainingConfig()
        sgd.optimizerKind = .sgd
        sgd.momentum = 0.9
        sgd.nesterov = true
        sgd.model.block = .noNorm
        sgd.model.softCap = 30
        return [TrainingConfig().json.serialized(pretty: true), soap.json.serialized(), sgd.json.serialized(pretty: true),
                "{}", #"{"width": 64, "heads": 4, "layers": 2, "lr": 1e-3, "optimizer": "adamw", "eps_convention": "hf"}"#]
            .map { Array($0.utf8) }
    }
}
