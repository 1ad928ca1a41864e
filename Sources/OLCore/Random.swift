import OLPlatform
/// Deterministic random numbers with named, independent streams.
///
/// Generator: xoshiro256** (Blackman & Vigna), seeded through splitmix64. A stream is identified by the
/// run seed and a purpose name (`"init"`, `"data"`, `"probe"`, `"tests"`, ...): the name is hashed with
/// FNV-1a 64 and mixed with the seed, so adding a parameter (more draws on `init`) never shifts the data
/// order (draws on `data`). Normal samples use the Box–Muller transform in Double, consuming two uniform
/// draws per pair and caching the second value of each pair.

/// splitmix64: used only to expand a 64-bit seed into xoshiro's 256-bit state.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A named random stream. Value type: copying it forks an identical sequence, and its whole state
/// (`state`, `cachedNormal`) is serialisable so checkpoints can resume a run bit for bit.
public struct RandomStream: Sendable, Equatable {
    /// xoshiro256** state; never all zero.
    public var state: (UInt64, UInt64, UInt64, UInt64)
    /// The second value of the last Box–Muller pair, if not yet used.
    public var cachedNormal: Double?

    public static func == (a: RandomStream, b: RandomStream) -> Bool {
        a.state == b.state && a.cachedNormal == b.cachedNormal
    }

    /// The stream for `purpose` under `seed`.
    public init(seed: UInt64, purpose: String) {
        var mixer = SplitMix64(seed: seed ^ RandomStream.fnv1a(purpose))
        state = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
        cachedNormal = nil
    }

    /// Restores a stream from serialised words (see `words`).
    public init(words: [UInt64], cachedNormal: Double?) {
        precondition(words.count == 4, "a random stream has four state words")
        state = (words[0], words[1], words[2], words[3])
        self.cachedNormal = cachedNormal
    }

    /// The four state words, for checkpoints.
    public var words: [UInt64] { [state.0, state.1, state.2, state.3] }

    /// FNV-1a 64-bit hash of the UTF-8 bytes of `text`.
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    public mutating func nextUInt64() -> UInt64 {
        let result = RandomStream.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = RandomStream.rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's multiply-and-reject).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let range = UInt64(bound)
        var product = nextUInt64().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold {
                product = nextUInt64().multipliedFullWidth(by: range)
            }
        }
        return Int(product.high)
    }

    /// A standard normal sample (Box–Muller in Double; u1 is drawn from (0, 1] so log never sees 0).
    public mutating func nextNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = 1.0 - nextDouble()
        let u2 = nextDouble()
        let radius = (-2.0 * OLPlatform.log(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        cachedNormal = radius * OLPlatform.sin(angle)
        return radius * OLPlatform.cos(angle)
    }

    /// Fills `buffer` with N(mean, std²) samples rounded to Float.
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Double = 0, std: Double) {
        for i in buffer.indices {
            buffer[i] = Float(mean + std * nextNormal())
        }
    }
}

