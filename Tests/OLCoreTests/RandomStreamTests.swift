import Testing
@testable import OLCore

@Suite("Random streams")
struct RandomStreamTests {
    @Test("the same seed and purpose give the same sequence, bit for bit")
    func sameSeedSameSequence() {
        var a = RandomStream(seed: 42, purpose: "init")
        var b = RandomStream(seed: 42, purpose: "init")
        for _ in 0..<1000 { #expect(a.nextUInt64() == b.nextUInt64()) }
    }

    @Test("streams with different purposes are independent of each other's draws")
    func purposesAreIndependent() {
        var data1 = RandomStream(seed: 7, purpose: "data")
        var initStream = RandomStream(seed: 7, purpose: "init")
        for _ in 0..<500 { _ = initStream.nextNormal() }  // drawing more init values ...
        var data2 = RandomStream(seed: 7, purpose: "data")  // ... does not move the data stream
        for _ in 0..<100 { #expect(data1.nextUInt64() == data2.nextUInt64()) }
        var other = RandomStream(seed: 7, purpose: "probe")
        var data3 = RandomStream(seed: 7, purpose: "data")
        let equalDraws = (0..<100).filter { _ in other.nextUInt64() == data3.nextUInt64() }.count
        #expect(equalDraws == 0)
    }

    @Test("a stream restored from its words continues identically, including a cached normal")
    func restoreFromWords() {
        var a = RandomStream(seed: 3, purpose: "tests")
        _ = a.nextNormal()  // leaves the second value of the pair cached
        var b = RandomStream(words: a.words, cachedNormal: a.cachedNormal)
        for _ in 0..<50 { #expect(a.nextNormal() == b.nextNormal()) }
    }

    @Test("uniform doubles have mean 1/2 and variance 1/12 within 5 standard errors")
    func uniformMoments() {
        var rng = RandomStream(seed: 11, purpose: "tests")
        let n = 200_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0..<n {
            let u = rng.nextDouble()
            #expect(u >= 0 && u < 1)
            sum += u; sumSq += u * u
        }
        let mean = sum / Double(n)
        let variance = sumSq / Double(n) - mean * mean
        // Standard error of the mean: sqrt(1/12 / n); of the variance: sqrt((1/80 - 1/144) / n).
        #expect(abs(mean - 0.5) < 5 * (1.0 / 12.0 / Double(n)).squareRoot())
        #expect(abs(variance - 1.0 / 12.0) < 5 * ((1.0 / 80.0 - 1.0 / 144.0) / Double(n)).squareRoot())
    }

    @Test("normal samples have mean 0, variance 1 and kurtosis 3 within bounds from the sample size")
    func normalMoments() {
        var rng = RandomStream(seed: 5, purpose: "tests")
        let n = 200_000
        var s1 = 0.0, s2 = 0.0, s4 = 0.0
        for _ in 0..<n {
            let z = rng.nextNormal()
            s1 += z; s2 += z * z; s4 += z * z * z * z
        }
        let mean = s1 / Double(n), second = s2 / Double(n), fourth = s4 / Double(n)
        // Standard errors for N(0,1): mean 1/√n, E[z²] √(2/n), E[z⁴] √(96/n); 5σ bounds.
        #expect(abs(mean) < 5 / Double(n).squareRoot())
        #expect(abs(second - 1) < 5 * (2 / Double(n)).squareRoot())
        #expect(abs(fourth - 3) < 5 * (96 / Double(n)).squareRoot())
    }

    @Test("bounded integers cover every value with roughly equal frequency", arguments: [2, 7, 256])
    func boundedIntegers(bound: Int) {
        var rng = RandomStream(seed: 9, purpose: "tests")
        var counts = [Int](repeating: 0, count: bound)
        let n = 50_000
        for _ in 0..<n { counts[rng.nextInt(below: bound)] += 1 }
        let expected = Double(n) / Double(bound)
        // Binomial standard deviation per bin, 6σ so the test is not flaky across bins.
        let sigma = (expected * (1 - 1 / Double(bound))).squareRoot()
        for c in counts { #expect(abs(Double(c) - expected) < 6 * sigma) }
    }

    @Test("xoshiro256** matches its published first outputs for a known state")
    func knownAnswer() {
        // State (1, 2, 3, 4): reference outputs of the authors' C implementation.
        var rng = RandomStream(words: [1, 2, 3, 4], cachedNormal: nil)
        #expect(rng.nextUInt64() == 11520)
        #expect(rng.nextUInt64() == 0)
        #expect(rng.nextUInt64() == 1_509_978_240)
        #expect(rng.nextUInt64() == 1_215_971_899_390_074_240)
    }
}
