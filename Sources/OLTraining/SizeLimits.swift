import OLCore
import OLModel

/// The one validation path for sizes, shared by every subcommand and by configs: counts are checked
/// against a stated range, and anything that allocates in proportion to a size is checked against this
/// machine's memory first, with overflow-checked arithmetic. Without it a huge `--batch` or `--windows`
/// traps on integer overflow or dies in an allocation instead of giving one line.
public enum SizeLimits {
    /// Worker threads: `--threads` and `OLAB_THREADS`.
    public static let maximumThreads = 1024
    /// Calibration batches of `eval --quant w8a8-static`.
    public static let maximumCalibrationBatches = 100_000
    /// Repetitions and steps of `olab bench`.
    public static let maximumBenchCount = 1_000_000

    /// `value` as a count in `1...maximum`, else one line naming `name`.
    public static func count(_ value: Int, _ name: String, atMost maximum: Int) throws -> Int {
        guard value >= 1 else { throw OutlierLabError("\(name) must be a positive integer, got \(value)") }
        guard value <= maximum else { throw OutlierLabError("\(name) must be at most \(maximum), got \(value)") }
        return value
    }

    /// A count given as text (flags read as strings and environment variables), checked as above.
    public static func count(text: String, _ name: String, atMost maximum: Int) throws -> Int {
        guard let value = Int(text) else {
            throw OutlierLabError("\(name) must be a positive integer, got '\(String(text.prefix(40)).escapingControlCharacters)'")
        }
        return try count(value, name, atMost: maximum)
    }

    /// The product, nil on overflow.
    public static func product(_ factors: Int...) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The sum, nil on overflow or if a term is nil.
    public static func sum(_ terms: Int?...) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// A lower bound on the bytes of `model` run on `rows` sequences: parameters (times `parameterCopies`:
    /// 4 when training — parameters, gradients, two moments; 2 for a quantised copy) and the per-layer
    /// activation caches and logits of the forward pass.
    public static func modelBytes(_ model: ModelConfig, rows: Int, parameterCopies: Int) -> Int? {
        let d = model.width, L = model.layers, T = model.seq, V = model.vocab
        let parameters = sum(product(V, d), product(T, d), product(L, 12, d, d))
        let activations = sum(product(rows, T, d, L, 4), product(rows, T, V))
        let floats = sum(parameters.flatMap { product($0, parameterCopies) }, activations)
        return floats.flatMap { product($0, 4) }
    }

    /// This machine's physical memory in bytes.
    public static var physicalMemory: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Refuses `bytes` (nil: overflowed) above this machine's memory: "`source`: `what` needs at least
    /// N MiB, more than the M MiB of this machine; `remedy`".
    public static func requireMemory(_ bytes: Int?, source: String, what: String, remedy: String) throws {
        let available = physicalMemory
        guard let bytes, bytes <= available else {
            let needed = bytes.map { "at least \($0 >> 20) MiB" } ?? "more memory than can be addressed"
            throw OutlierLabError("\(source): \(what) needs \(needed), more than the \(available >> 20) MiB of this machine; \(remedy)")
        }
    }
}

extension TrainingConfig {
    /// Refuses a config whose model cannot fit in this machine's memory before anything is allocated:
    /// a lower bound on the bytes of parameters, gradients, two optimiser moments, activations and the
    /// synthetic corpus, computed with overflow checks. Without it an absurd width, depth or batch
    /// (from a config file or a corrupt checkpoint) would trap on overflow or die allocating.
    public func requireFitsInMemory(source: String) throws {
        let rows = max(batch, probeBatch)
        let bytes = SizeLimits.sum(SizeLimits.modelBytes(model, rows: rows, parameterCopies: 4), corpusSource == .synthetic ? syntheticBytes : 0)
        try SizeLimits.requireMemory(bytes, source: source,
                                     what: "this config (width \(model.width), layers \(model.layers), seq \(model.seq), batch \(rows))",
                                     remedy: "reduce width, layers, seq or batch")
        // The summary's W8A8 evaluation runs every window in one forward call (one dynamic scale).
        try SizeLimits.requireMemory(SizeLimits.modelBytes(model, rows: evalWindows, parameterCopies: 2), source: source,
                                     what: "evaluating eval_windows \(evalWindows) windows of \(model.seq) tokens in one call",
                                     remedy: "reduce eval_windows")
        // Token counts over the schedule (throughput, progress) must be representable.
        guard SizeLimits.product(steps, batch, model.seq) != nil else {
            throw OutlierLabError("\(source): steps \(steps) × batch \(batch) × seq \(model.seq) tokens is more than can be counted; reduce steps")
        }
    }
}
