import ArgumentParser
import OLCore
import OLFuzz
import OLTraining

/// The `flags` target: an argument vector (one argument per line) for train, eval, metrics or bench,
/// parsed by ArgumentParser and checked by the command's own size path against a tiny run's config,
/// without training or loading anything. A parse error or an `OutlierLabError` is a clean rejection;
/// a trap (integer overflow, allocation) is the crash the fuzzer looks for.
enum FlagsFuzzTarget {
    /// The seeds and check `Fuzzer` runs for `--target flags`.
    static var target: Fuzzer.ExternalTarget { Fuzzer.ExternalTarget(seeds: seeds, check: check) }

    static let seeds: [[UInt8]] = [
        "train\n--width\n64\n--heads\n4\n--layers\n2\n--seq\n32\n--batch\n8\n--steps\n100\n--stop-after\n10",
        "train\n--probe-batch\n4\n--eval-windows\n16\n--log-every\n10\n--checkpoint-every\n50\n--synthetic-bytes\n100000\n--precondition-frequency\n10",
        "train\n--lr\n0.001\n--eps\n1e-8\n--beta1\n0.9\n--warmup-fraction\n0.05\n--seed\n3\n--grad-clip\n1",
        "eval\n--checkpoint\nx\n--windows\n8\n--batch\n4",
        "eval\n--checkpoint\nx\n--quant\nw8a8-static\n--bits\n8\n--calibration-batches\n8\n--calibration-seed\n1\n--percentile\n99.999",
        "eval\n--checkpoint\nx\n--quant\nw8a8-naive\n--bits\n4\n--batch\n2",
        "metrics\n--checkpoint\nx\n--probe-batch\n4",
        "bench\n--repeats\n2\n--steps\n10\n--warmup\n3\n--threads\n2\n--seed\n0",
    ].map { Array($0.utf8) }

    /// The run the eval and metrics checks are measured against: a tiny model and a 10 kB validation split.
    static let config: TrainingConfig = {
        var config = TrainingConfig()
        config.model.width = 32
        config.model.heads = 4
        config.model.layers = 2
        config.model.seq = 32
        return config
    }()

    static func check(_ input: [UInt8]) throws -> Bool {
        let arguments = String(decoding: input, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let name = arguments.first, ["train", "eval", "metrics", "bench"].contains(name) else { return false }
        let command: ParsableCommand
        do { command = try Olab.parseAsRoot(arguments) } catch { return false }
        do {
            switch command {
            case let train as TrainCommand:
                if let stopAfter = train.stopAfter { _ = try SizeLimits.count(stopAfter, "--stop-after", atMost: Int.max) }
                _ = try train.options.resolve()
            case let eval as EvalCommand:
                _ = try eval.sizes(config: config, validationBytes: 10_000)
            case let metrics as MetricsCommand:
                _ = try metrics.probeBatchSize(config: config)
            case let bench as BenchCommand:
                _ = try bench.options()
            default:
                return false
            }
        } catch let error as OutlierLabError {
            guard !boundedLine(error.message).contains("\n") else { throw FuzzFailure(reason: "a multi-line error: \(error.message.debugDescription)") }
            return false
        }
        return true
    }
}
