@testable import OLCore
@testable import OLTraining

/// A tiny, fast configuration: trains in well under a second in release mode.
func tinyConfig(block: String = "preLN", optimizer: String = "adamw", steps: Int = 40) throws -> TrainingConfig {
    try TrainingConfig(json: .object([
        "block": .string(block), "width": 32, "layers": 2, "heads": 4, "seq": 32, "batch": 8,
        "steps": .int(Int64(steps)), "log_every": 10, "checkpoint_every": 10, "eval_windows": 8, "probe_batch": 2,
        "optimizer": .string(optimizer), "synthetic_bytes": 200_000, "seed": 7,
    ]))
}
