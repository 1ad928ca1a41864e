import OLCore

/// Byte-level mutations, with a few that know about binary integers and JSON number tokens.
enum FuzzMutator {
    static let interestingBytes: [UInt8] = Array("\"{}[],:-0123456789eE.\\ ".utf8) + [0x00, 0x01, 0x0A, 0x7F, 0x80, 0xFE, 0xFF]
    static let interestingWords: [UInt64] = [0, 1, 7, 8, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 62,
                                             UInt64(Int64.max), 1 << 63, UInt64.max, 100_000_000, 100_000_001]
    static let numberTokens = ["0", "-0", "-1", "1", "3", "1e309", "-1e309", "1e-400", "NaN", "Infinity", "-Infinity", "0.5", "1.5",
                               "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                               "18446744073709551616", "1e18", "99999999999999999999999", "null", "true", "\"x\"", "[]", "{}",
                               "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"]

    static func mutate(_ bytes: inout [UInt8], seeds: [[UInt8]], random: inout RandomStream, limit: Int) {
        let count = 1 + random.nextInt(below: 4)
        for _ in 0..<count { mutateOnce(&bytes, seeds: seeds, random: &random) }
        if bytes.count > limit { bytes.removeLast(bytes.count - limit) }
    }

    private static func mutateOnce(_ bytes: inout [UInt8], seeds: [[UInt8]], random: inout RandomStream) {
        func position(_ extra: Int = 0) -> Int { random.nextInt(below: bytes.count + extra) }
        if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: random.nextUInt64())]; return }
        switch random.nextInt(below: 10) {
        case 0:
            bytes[position()] ^= 1 << UInt8(random.nextInt(below: 8))
        case 1:
            bytes[position()] = interestingBytes[random.nextInt(below: interestingBytes.count)]
        case 2:
            let start = position(), length = min(1 + random.nextInt(below: 16), bytes.count - start)
            bytes.removeSubrange(start ..< start + length)
        case 3:
            let inserted = (0 ..< 1 + random.nextInt(below: 16)).map { _ in UInt8(truncatingIfNeeded: random.nextUInt64()) }
            bytes.insert(contentsOf: inserted, at: position(1))
        case 4:
            let start = position(), length = min(1 + random.nextInt(below: 64), bytes.count - start)
            bytes.insert(contentsOf: bytes[start ..< start + length], at: position(1))
        case 5:
            bytes.removeLast(bytes.count - position())
        case 6:
            let word = interestingWords[random.nextInt(below: interestingWords.count)]
            let start = random.nextInt(below: 3) == 0 ? 0 : position()
            for k in 0..<8 where start + k < bytes.count { bytes[start + k] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(k))) }
        case 7, 8:
            replaceNumber(&bytes, random: &random)
        default:
            let other = seeds[random.nextInt(below: seeds.count)]
            guard !other.isEmpty else { return }
            let start = random.nextInt(below: other.count), length = min(1 + random.nextInt(below: 256), other.count - start)
            let at = position()
            bytes.replaceSubrange(at ..< min(bytes.count, at + length), with: other[start ..< start + length])
        }
    }

    /// Replaces the run of digits (with sign, dot and exponent) at or after a random position by a
    /// number token chosen to sit on a boundary: overflow, negative zero, NaN, deep nesting, wrong type.
    private static func replaceNumber(_ bytes: inout [UInt8], random: inout RandomStream) {
        func isNumberByte(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x2E || byte == 0x65 || byte == 0x2B }
        var start = random.nextInt(below: bytes.count)
        while start < bytes.count && !(0x30...0x39).contains(bytes[start]) { start += 1 }
        guard start < bytes.count else { return }
        while start > 0 && isNumberByte(bytes[start - 1]) { start -= 1 }
        var end = start
        while end < bytes.count && isNumberByte(bytes[end]) { end += 1 }
        bytes.replaceSubrange(start ..< end, with: Array(numberTokens[random.nextInt(below: numberTokens.count)].utf8))
    }
}
