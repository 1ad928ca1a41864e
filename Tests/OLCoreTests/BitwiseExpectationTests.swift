import OLTestSupport
import Testing
@testable import OLCore

/// The comparison every "same bits" test of the suite goes through: it must find the first difference,
/// count them, and give digests, in one pass over buffers of checkpoint size.
@Suite("Bitwise expectations")
struct BitwiseExpectationTests {
    /// 16 MiB of seeded bytes: the size of a small model's checkpoint.
    static func checkpointSizedBytes() -> [UInt8] {
        var stream = RandomStream(seed: 11, purpose: "tests")
        return (0..<(16 << 20)).map { _ in UInt8(truncatingIfNeeded: stream.nextUInt64()) }
    }

    @Test("identical buffers give no difference, including equal NaN payloads")
    func identical() {
        let bytes = Self.checkpointSizedBytes()
        #expect(BitwiseDifference.between(bytes, bytes) == nil)
        let floats: [Float] = [1, .nan, -0.0, .infinity]
        #expect(BitwiseDifference.between(floats, floats) == nil)
    }

    @Test("one flipped byte in 16 MiB is found at its index, counted once, with both digests")
    func flippedByte() throws {
        let expected = Self.checkpointSizedBytes()
        var actual = expected
        actual[12_345_678] ^= 0x10
        let difference = try #require(BitwiseDifference.between(actual, expected))
        #expect(difference.firstIndex == 12_345_678)
        #expect(difference.differingCount == 1)
        #expect(difference.digests.actual == SHA256.hex(actual) && difference.digests.expected == SHA256.hex(expected))
        #expect(difference.description.contains("first difference at element 12345678"), "\(difference)")
    }

    @Test("a shorter buffer differs where it ends, and both lengths are reported")
    func lengths() throws {
        let difference = try #require(BitwiseDifference.between([1, 2, 3] as [UInt8], [1, 2, 3, 4]))
        #expect(difference.firstIndex == 3 && difference.differingCount == 0)
        #expect(difference.description.contains("lengths 3 vs 4"), "\(difference)")
    }

    @Test("floats compare by bits: -0.0 differs from 0.0, and every differing element is counted")
    func floatBits() throws {
        let difference = try #require(BitwiseDifference.between([0.0, 1, 2, -3] as [Float], [-0.0, 1, 2.5, -3]))
        #expect(difference.firstIndex == 0 && difference.differingCount == 2)
    }

    @Test("a failing expectation's message names what differs and the first differing byte")
    func recordsTheFirstDifference() {
        let expected = Self.checkpointSizedBytes()
        var actual = expected
        actual[3_000_001] &+= 1
        let messages = bitwiseMismatches(actual, expected, "broken checkpoint")
        #expect(messages.count == 1 && messages[0].hasPrefix("broken checkpoint: first difference at element 3000001"), "\(messages)")
        #expect(bitwiseMismatches(expected, expected, "same").isEmpty)
    }

    @Test("named buffers are reported by name, and a missing name is a message of its own")
    func namedBuffers() {
        let messages = bitwiseMismatches(["m": [1, 2] as [UInt64], "v": [3]], ["m": [1, 2], "v": [4]], "state")
        #expect(messages.count == 1 && messages[0].hasPrefix("state, v: first difference at element 0"), "\(messages)")
        let missing = bitwiseMismatches(["m": [1] as [UInt64]], ["m": [1], "v": [4]], "state")
        #expect(missing == ["state: names differ: [\"m\"] vs [\"m\", \"v\"]"], "\(missing)")
    }
}
