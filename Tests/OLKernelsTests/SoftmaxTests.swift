import CVectorMath
import Foundation
import OLCore
import OLTestSupport
import Testing
@testable import OLKernels

@Suite("Softmax and the vectorised exp")
struct SoftmaxTests {
    /// The first input whose vectorised exp differs from libm's, and how many differ in a range of bit patterns.
    struct ExpMismatches: Sendable {
        var count = 0
        var firstInput: UInt32? = nil
        var ours: Float = 0, libm: Float = 0
    }

    /// Runs `olab_exp_shifted` (shift 0) and `expf` over every float whose bit pattern is in `patterns`
    /// (stepping by `step`), in blocks on the workers; NaN inputs must give NaN, all others the same bits.
    static func compareWithLibm(_ patterns: ClosedRange<UInt32>, step: UInt32 = 1) -> ExpMismatches {
        let block = 1 << 14
        let total = Int((UInt64(patterns.upperBound) - UInt64(patterns.lowerBound)) / UInt64(step)) + 1
        let blocks = (total + block - 1) / block
        let results = UnsafeMutableBufferPointer<ExpMismatches>.allocate(capacity: blocks)
        results.initialize(repeating: ExpMismatches())
        defer { results.deallocate() }
        let out = SendablePointer(results.baseAddress!)
        // Plain threads, one per core: Parallel's pool may be held by a kernel test running beside this one.
        let threads = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var input = [Float](repeating: 0, count: block), output = input
            for b in stride(from: thread, to: blocks, by: threads) {
                let n = min(block, total - b * block)
                let first = patterns.lowerBound &+ UInt32(b * block) &* step
                for i in 0..<n { input[i] = Float(bitPattern: first &+ UInt32(i) &* step) }
                // Calls of 65–71 entries, so every call also ends in a masked tail of 1–7 lanes: the
                // tail's lanes are checked against expf over the whole range too, not only the full vectors.
                input.withUnsafeBufferPointer { inp in
                    output.withUnsafeMutableBufferPointer { outp in
                        var (start, rest) = (0, 1)
                        while start < n {
                            let length = min(n - start, 64 + rest)
                            olab_exp_shifted(inp.baseAddress! + start, 0, outp.baseAddress! + start, length)
                            (start, rest) = (start + length, rest % 7 + 1)
                        }
                    }
                }
                var found = ExpMismatches()
                for i in 0..<n {
                    let expected = expf(input[i])
                    if expected.isNaN ? output[i].isNaN : output[i].bitPattern == expected.bitPattern { continue }
                    if found.firstInput == nil { found = ExpMismatches(count: 0, firstInput: input[i].bitPattern, ours: output[i], libm: expected) }
                    found.count += 1
                }
                out[b] = found
            }
        }
        return results.reduce(into: ExpMismatches()) { all, part in
            if all.firstInput == nil, part.firstInput != nil { all = ExpMismatches(count: all.count, firstInput: part.firstInput, ours: part.ours, libm: part.libm) }
            all.count += part.count
        }
    }

    @Test("the vectorised exp equals libm's expf on every float in [−88, 0] and around its branch limits")
    func vectorisedExpEqualsLibmOnEveryNegativeFloat() {
        // Softmax and cross-entropy only exponentiate z − max ≤ 0 (or nan). Every pattern from −0
        // (0x80000000) to just below −88 (0xC2B00000) takes the vector lanes; from −88 down, and for inf
        // and nan, the lanes call expf itself, so 2^16 patterns past the limit check the branch.
        // OLAB_EXHAUSTIVE_EXP=1 runs all 2^31 patterns with the sign bit set instead (16 s per core here).
        let all = ProcessInfo.processInfo.environment["OLAB_EXHAUSTIVE_EXP"] == "1"
        let result = Self.compareWithLibm(0x8000_0000 ... (all ? 0xFFFF_FFFF : 0xC2B1_0000))
        #expect(result.count == 0, "\(result.count) inputs differ; first 0x\(String(result.firstInput ?? 0, radix: 16)) = \(Float(bitPattern: result.firstInput ?? 0)): ours \(result.ours) (0x\(String(result.ours.bitPattern, radix: 16))), libm \(result.libm) (0x\(String(result.libm.bitPattern, radix: 16))); vectorised lanes: \(olab_exp_is_vectorised() == 1)")
    }

    @Test("the vectorised exp equals libm's expf on positive floats up to overflow and beyond (every 7th bit pattern)")
    func vectorisedExpEqualsLibmOnPositiveFloats() {
        // 0x42c80000 = 100 > log(FLT_MAX) ≈ 88.72: the overflow branch is crossed too.
        let result = Self.compareWithLibm(0x0000_0000 ... 0x42C8_0000, step: 7)
        #expect(result.count == 0, "\(result.count) inputs differ; first 0x\(String(result.firstInput ?? 0, radix: 16)): ours \(result.ours), libm \(result.libm)")
    }

    @Test("the exp runs its vector lanes on every CPU with AVX2 and FMA (where glibc runs its FMA expf)")
    func vectorLanesRunWhereTheCPUHasThem() throws {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let names = Set(flags.split(separator: " ").map(String.init))
        #expect((olab_exp_is_vectorised() == 1) == (names.contains("avx2") && names.contains("fma")),
                "dispatch says \(olab_exp_is_vectorised()); cpuinfo avx2 \(names.contains("avx2")), fma \(names.contains("fma"))")
    }

    @Test("a tail of 1–7 entries gives expf's bits, with −inf, nan, overflow and underflow among them")
    func tailLanesGiveExpfBits() {
        // A tail with an out-of-range entry leaves the vector lanes for expf; the lanes past the row are
        // neither read nor written (the guard entries after the row keep their value).
        let specials: [Float] = [-.infinity, .nan, 100, -104, 89, -87.9, 0, -0.0]
        for count in 1...15 {
            for variant in 0..<3 {
                var z = randomFloats(count, seed: UInt64(100 + count), std: 6)
                if variant > 0 { z[count - 1 - (variant - 1) % count] = specials[(count + variant) % specials.count] }
                var out = [Float](repeating: 7, count: count + 8)
                z.withUnsafeBufferPointer { olab_exp_shifted($0.baseAddress!, -1.5, &out, count) }
                let expected = (0..<count).map { expf(z[$0] + 1.5) }
                for j in 0..<count where expected[j].isNaN ? !out[j].isNaN : out[j].bitPattern != expected[j].bitPattern {
                    Issue.record("count \(count), variant \(variant): entry \(j) of \(z[j]) gives \(out[j]), expf \(expected[j])")
                    break
                }
                #expect(out[count...].allSatisfy { $0 == 7 }, "count \(count): the entries past the row are untouched")
            }
        }
    }

    @Test("the shift is subtracted in float before the exp, for any alignment and length")
    func shiftIsSubtractedFirst() {
        for count in [0, 1, 7, 8, 9, 31, 100] {
            let z = randomFloats(count + 3, seed: UInt64(count), std: 20)
            for offset in 0..<3 {
                var out = [Float](repeating: .nan, count: count)
                z.withUnsafeBufferPointer { olab_exp_shifted($0.baseAddress! + offset, 3.25, &out, count) }
                let expected = (0..<count).map { expf(z[offset + $0] - 3.25) }
                expectBitwiseEqual(out, expected, "exp(z − 3.25), count \(count), offset \(offset)")
            }
        }
    }

    /// The softmax exactly as the kernels computed it before `olab_exp_shifted`: one scalar loop each.
    static func plainSoftmax(_ z: [Float]) -> (p: [Float], max: Float, sum: Float) {
        var maxv = -Float.infinity
        for v in z where v > maxv { maxv = v }
        var p = z.map { expf($0 - maxv) }, sum: Float = 0
        for v in p { sum += v }
        let inv = 1 / sum
        for j in p.indices { p[j] *= inv }
        return (p, maxv, sum)
    }

    @Test("softmax gives the plain loop's bits, including rows with −inf, nan, huge gaps and ±0 maxima",
          arguments: [1, 5, 16, 17, 64, 129, 256])
    func softmaxMatchesPlainLoopBitwise(count: Int) {
        var rows = [randomFloats(count, seed: UInt64(count), std: 4), randomFloats(count, seed: 9, std: 80)]
        var special = randomFloats(count, seed: 2, std: 1)
        special[count / 2] = -.infinity
        if count > 2 { special[1] = 150; special[count - 1] = -0.0 }
        rows.append(special)
        rows.append([Float](repeating: -0.0, count: count))
        for (r, z) in rows.enumerated() {
            var p = [Float](repeating: 0, count: count)
            let (maxv, sum) = z.withUnsafeBufferPointer { softmax($0.baseAddress!, into: &p, count: count) }
            let plain = Self.plainSoftmax(z)
            expectBitwiseEqual(p, plain.p, "row \(r) probabilities")
            #expect(maxv.bitPattern == plain.max.bitPattern || maxv == plain.max, "row \(r) max \(maxv) vs \(plain.max)")
            #expect(sum.bitPattern == plain.sum.bitPattern, "row \(r) sum \(sum) vs \(plain.sum)")
        }
        // A nan logit makes the whole row nan (its payload bits are the hardware's business, not ours).
        var withNaN = randomFloats(count, seed: 5)
        withNaN[count - 1] = .nan
        var p = [Float](repeating: 0, count: count)
        _ = withNaN.withUnsafeBufferPointer { softmax($0.baseAddress!, into: &p, count: count) }
        #expect(p.allSatisfy { $0.isNaN }, "a row with a nan logit is all nan")
    }

    @Test("four softmax rows at once give each row's own bits, for rows of different lengths")
    func groupedRowsMatchPlainLoopBitwise() {
        // Lengths as a causal block has them (i + 1 for four consecutive i) and as the cross-entropy has
        // them (all V); the grouped sums run side by side over the common prefix, then each row alone.
        for lengths in [[5, 6, 7, 8], [31, 32, 33, 34], [256, 256, 256, 256], [1, 2, 3, 4], [3, 9]] {
            let rows = lengths.enumerated().map { randomFloats($0.element, seed: UInt64(100 + $0.offset), std: 6) }
            var outputs = lengths.map { [Float](repeating: .nan, count: $0) }
            let inputs = rows.map { row in UnsafeMutablePointer<Float>.allocate(capacity: row.count) }
            let results = inputs.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 256) }
            defer { inputs.forEach { $0.deallocate() }; results.forEach { $0.deallocate() } }
            for (g, row) in rows.enumerated() { inputs[g].initialize(from: row, count: row.count) }
            let (maxes, sums) = softmaxRows(lengths.count, z: { UnsafePointer(inputs[$0]) }, p: { results[$0] }, count: { lengths[$0] })
            for g in lengths.indices {
                outputs[g] = Array(UnsafeBufferPointer(start: results[g], count: lengths[g]))
                let plain = Self.plainSoftmax(rows[g])
                expectBitwiseEqual(outputs[g], plain.p, "lengths \(lengths), row \(g)")
                #expect(maxes[g].bitPattern == plain.max.bitPattern && sums[g].bitPattern == plain.sum.bitPattern,
                        "lengths \(lengths), row \(g): max \(maxes[g]) vs \(plain.max), sum \(sums[g]) vs \(plain.sum)")
            }
        }
    }
}
