import OLGoldens
import OLTestSupport
import Testing
import OLCore
@testable import OLData

/// The data options of issue 28: a BOS token at position 0 of every row, crops aligned to line starts,
/// and the default layout that keeps every earlier batch.
@Suite("BOS token and line-aligned crops")
struct TokenLayoutTests {
    static let train = SyntheticCorpus.generate(seed: 4, byteCount: 20_000)
    static let validation = SyntheticCorpus.generate(seed: 12, byteCount: 1_000)
    static let bosLine = TokenLayout(bos: true, cropAlign: .line)

    static func draw(_ sampler: inout BatchSampler) -> (starts: [Int], inputs: [Int32], targets: [Int32]) {
        let starts = sampler.peekStarts()
        let size = sampler.batchSize * sampler.sequenceLength
        var inputs = [Int32](repeating: -1, count: size), targets = inputs
        inputs.withUnsafeMutableBufferPointer { i in targets.withUnsafeMutableBufferPointer { t in sampler.next(inputs: i, targets: t) } }
        return (starts, inputs, targets)
    }

    @Test("every training row starts with the BOS token, which predicts the crop's first byte", arguments: [TokenLayout(bos: true), bosLine])
    func bosAtPositionZeroOfEveryCrop(layout: TokenLayout) throws {
        let T = 16
        var sampler = try BatchSampler(train: Self.train, batchSize: 4, sequenceLength: T, seed: 3, layout: layout)
        for _ in 0..<20 {
            let (starts, inputs, targets) = Self.draw(&sampler)
            for (row, start) in starts.enumerated() {
                let bytes = Self.train[start ..< start + T].map(Int32.init)
                expectBitwiseEqual(Array(inputs[row * T ..< (row + 1) * T]), [TokenLayout.bosToken] + bytes.dropLast(), "inputs: BOS, then the crop's first T−1 bytes")
                expectBitwiseEqual(Array(targets[row * T ..< (row + 1) * T]), bytes, "targets: the crop's T bytes")
            }
        }
        #expect(layout.vocabulary == 257)
    }

    @Test("line-aligned crops start right after a newline and reach many different lines")
    func lineAlignedCropsStartAfterNewline() throws {
        let T = 32
        var sampler = try BatchSampler(train: Self.train, batchSize: 8, sequenceLength: T, seed: 9, layout: TokenLayout(cropAlign: .line))
        var seen = Set<Int>()
        for _ in 0..<50 {
            let (starts, inputs, _) = Self.draw(&sampler)
            for (row, start) in starts.enumerated() {
                #expect(start >= 1 && Self.train[start - 1] == 0x0A, "crop \(start) does not follow a newline")
                #expect(start + T + 1 <= Self.train.count)
                #expect(inputs[row * T] == Int32(Self.train[start]))
            }
            seen.formUnion(starts)
        }
        let lines = Self.train.dropLast(T + 1).filter { $0 == 0x0A }.count
        // 400 uniform draws over ~`lines` line starts (several hundred): far more than 100 distinct unless the
        // draw were stuck on a few lines.
        #expect(seen.count > 100, "\(seen.count) distinct line starts of \(lines)")
    }

    @Test("a train split with no newline followed by a full crop is refused naming crop_align")
    func noLineStartIsRefused() {
        let flat = [UInt8](repeating: UInt8(ascii: "x"), count: 100) + [0x0A] + [UInt8](repeating: UInt8(ascii: "y"), count: 10)
        var message: String?
        do { _ = try BatchSampler(train: flat, batchSize: 2, sequenceLength: 16, seed: 0, layout: TokenLayout(cropAlign: .line)) } catch let error as OutlierLabError { message = error.message } catch {}
        #expect(message == "train split (111 bytes) has no line start for crop_align line: no newline is followed by a crop of 17 bytes; use crop_align none or a corpus with line breaks")
    }

    @Test("the default layout reproduces the batches of the byte sampler bit for bit")
    func defaultLayoutKeepsOldBatches() throws {
        let (B, T) = (5, 24)
        var sampler = try BatchSampler(train: Self.train, batchSize: B, sequenceLength: T, seed: 17)
        // The convention before issue 28, written out: one draw below count − T per row, T+1 bytes.
        var random = RandomStream(seed: 17, purpose: "data")
        for _ in 0..<10 {
            let (_, inputs, targets) = Self.draw(&sampler)
            var expectedInputs: [Int32] = [], expectedTargets: [Int32] = []
            for _ in 0..<B {
                let start = random.nextInt(below: Self.train.count - T)
                expectedInputs += Self.train[start ..< start + T].map(Int32.init)
                expectedTargets += Self.train[start + 1 ... start + T].map(Int32.init)
            }
            expectBitwiseEqual(inputs, expectedInputs, "default-layout inputs")
            expectBitwiseEqual(targets, expectedTargets, "default-layout targets")
        }
    }

    @Test("with BOS the sampler draws the same crop starts as without")
    func bosKeepsTheDraws() throws {
        var plain = try BatchSampler(train: Self.train, batchSize: 4, sequenceLength: 16, seed: 2)
        var bos = try BatchSampler(train: Self.train, batchSize: 4, sequenceLength: 16, seed: 2, layout: TokenLayout(bos: true))
        for _ in 0..<5 { #expect(Self.draw(&plain).starts == Self.draw(&bos).starts) }
    }

    @Test("every evaluation window and probe row carries the BOS at position 0, at the offsets used without it")
    func bosInWindowsAndProbe() throws {
        let T = 20
        let plain = try EvaluationWindows(validation: Self.validation, count: 6, sequenceLength: T)
        let windows = try EvaluationWindows(validation: Self.validation, count: 6, sequenceLength: T, bos: true)
        var inputs = [Int32](repeating: -1, count: 6 * T), targets = inputs
        inputs.withUnsafeMutableBufferPointer { i in targets.withUnsafeMutableBufferPointer { t in windows.fill(first: 0, rows: 6, inputs: i, targets: t) } }
        for k in 0..<6 {
            let start = plain.start(of: k)
            #expect(windows.start(of: k) == start)
            let bytes = Self.validation[start ..< start + T].map(Int32.init)
            expectBitwiseEqual(Array(inputs[k * T ..< (k + 1) * T]), [TokenLayout.bosToken] + bytes.dropLast(), "window \(k) inputs")
            expectBitwiseEqual(Array(targets[k * T ..< (k + 1) * T]), bytes, "window \(k) targets")
        }
        let probe = try ProbeBatch(validation: Self.validation, batchSize: 4, sequenceLength: T, seed: 5, bos: true)
        let plainProbe = try ProbeBatch(validation: Self.validation, batchSize: 4, sequenceLength: T, seed: 5)
        #expect(probe.starts == plainProbe.starts)
        for (row, start) in probe.starts.enumerated() {
            let bytes = Self.validation[start ..< start + T].map(Int32.init)
            expectBitwiseEqual(Array(probe.inputs[row * T ..< (row + 1) * T]), [TokenLayout.bosToken] + bytes.dropLast(), "probe row \(row) inputs")
            expectBitwiseEqual(Array(probe.targets[row * T ..< (row + 1) * T]), bytes, "probe row \(row) targets")
        }
    }
}

/// The data golden (`Goldens/data/`), in a suite of its own so `make goldens` and `make verify-goldens`
/// (which run the `…GoldenTests` suites) record and check it with the others.
@Suite("data golden")
struct DataGoldenTests {
    @Test("a BOS + line-aligned batch, the evaluation windows and the probe batch match the accepted golden")
    func dataGolden() throws {
        try Goldens.check(DataGolden.goldenCase())
    }
}

/// `Goldens/data/bos_line_batches`: the rows of every kind (training crops, evaluation windows, probe
/// batch) with `bos` and `crop_align: line`, from a small synthetic corpus stored in the golden, so a
/// re-checker needs neither the corpus generator nor the RNG. Tensors (all compared exactly):
///   input.corpus.train       (n_train) U8     the train split
///   input.corpus.validation  (n_val)   U8     the validation split
///   input.batch.starts       (N, B)    I64    the drawn crop offsets in the train split
///   input.probe.starts       (Bp)      I64    the drawn probe offsets in the validation split
///   output.batch.tokens / .targets   (N, B, T) I64   rows by the `TokenLayout` convention
///   output.window.starts     (K)       I64    s_k = ⌊k·(n_val − T − 1)/(K − 1)⌋
///   output.window.tokens / .targets  (K, T)    I64
///   output.probe.tokens / .targets   (Bp, T)   I64
/// The header's config names T (`seq`), B, N, K, Bp, `vocab` and `bos_token`.
enum DataGolden {
    static let (T, B, N, K, Bp) = (24, 4, 3, 4, 3)
    static let seed: UInt64 = 5

    static func goldenCase() throws -> GoldenCase {
        let corpus = try SyntheticCorpus.corpus(seed: 3, byteCount: 6_000, trainFraction: 0.9)
        let layout = TokenLayout(bos: true, cropAlign: .line)
        var sampler = try BatchSampler(train: corpus.train, batchSize: B, sequenceLength: T, seed: seed, layout: layout)
        var starts: [Int] = [], tokens: [Int32] = [], targets: [Int32] = []
        for _ in 0..<N {
            let drawn = TokenLayoutTests.draw(&sampler)
            starts += drawn.starts
            tokens += drawn.inputs
            targets += drawn.targets
        }
        let windows = try EvaluationWindows(validation: corpus.validation, count: K, sequenceLength: T, bos: true)
        var windowTokens = [Int32](repeating: 0, count: K * T), windowTargets = windowTokens
        windowTokens.withUnsafeMutableBufferPointer { i in windowTargets.withUnsafeMutableBufferPointer { t in windows.fill(first: 0, rows: K, inputs: i, targets: t) } }
        let probe = try ProbeBatch(validation: corpus.validation, batchSize: Bp, sequenceLength: T, seed: seed, bos: true)
        func ints(_ name: String, _ shape: [Int], _ values: [Int]) -> GoldenTensor {
            GoldenTensor(NamedTensor(name: name, shape: shape, values: .int64(values.map(Int64.init))), compare: .exact)
        }
        func tokenTensor(_ name: String, _ shape: [Int], _ values: [Int32]) -> GoldenTensor { ints(name, shape, values.map(Int.init)) }
        let tensors = [
            GoldenTensor(NamedTensor(name: "input.corpus.train", shape: [corpus.train.count], values: .uint8(corpus.train)), compare: .exact),
            GoldenTensor(NamedTensor(name: "input.corpus.validation", shape: [corpus.validation.count], values: .uint8(corpus.validation)), compare: .exact),
            ints("input.batch.starts", [N, B], starts),
            ints("input.probe.starts", [Bp], probe.starts),
            tokenTensor("output.batch.tokens", [N, B, T], tokens),
            tokenTensor("output.batch.targets", [N, B, T], targets),
            ints("output.window.starts", [K], (0..<K).map(windows.start(of:))),
            tokenTensor("output.window.tokens", [K, T], windowTokens),
            tokenTensor("output.window.targets", [K, T], windowTargets),
            tokenTensor("output.probe.tokens", [Bp, T], probe.inputs),
            tokenTensor("output.probe.targets", [Bp, T], probe.targets),
        ]
        let config: JSONValue = .object([
            "bos": true, "crop_align": "line", "seq": .int(Int64(T)), "batch": .int(Int64(B)), "batches": .int(Int64(N)),
            "eval_windows": .int(Int64(K)), "probe_batch": .int(Int64(Bp)), "vocab": .int(Int64(layout.vocabulary)),
            "bos_token": .int(Int64(TokenLayout.bosToken)), "corpus": .string(corpus.source), "train_fraction": 0.9,
        ])
        return GoldenCase(suite: "data", name: "bos_line_batches", kind: "data_batches", config: config, seed: seed, tensors: tensors)
    }
}
