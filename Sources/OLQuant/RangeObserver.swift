import OLCore
import OLMetrics

/// Static activation range from calibration batches (W8A8-static): the first batch sets (min, max); every
/// later batch moves them as r ← m·r + (1 − m)·r_batch with momentum m = 0.9, in Double. With a
/// `percentile` p (e.g. 99.999) the batch range is the (100 − p)th and pth percentiles instead of the
/// extremes, with NumPy's default linear interpolation between order statistics.
public struct RangeObserver: Sendable, Equatable, Codable {
    public let momentum: Double
    public let percentile: Double?
    public private(set) var minimum: Double?
    public private(set) var maximum: Double?
    public private(set) var batches = 0

    public init(momentum: Double = 0.9, percentile: Double? = nil) {
        precondition((0...1).contains(momentum), "observer momentum must be in [0, 1], got \(momentum)")
        precondition(percentile.map { (50...100).contains($0) } ?? true, "observer percentile must be in [50, 100]")
        self.momentum = momentum
        self.percentile = percentile
    }

    /// Folds one calibration batch into the running range. Throws on an empty batch or non-finite values,
    /// which would poison every later range.
    public mutating func observe(_ values: UnsafeBufferPointer<Float>) throws {
        guard !values.isEmpty else { throw OutlierLabError("range observer: empty calibration batch") }
        guard values.allSatisfy(\.isFinite) else {
            throw OutlierLabError("range observer: calibration batch \(batches + 1) contains NaN or infinity")
        }
        let (low, high) = batchRange(values)
        if let minimum, let maximum {
            self.minimum = momentum * minimum + (1 - momentum) * low
            self.maximum = momentum * maximum + (1 - momentum) * high
        } else {
            minimum = low
            maximum = high
        }
        batches += 1
    }

    /// `observe` on a `[Float]` batch.
    public mutating func observe(_ values: [Float]) throws {
        try values.withUnsafeBufferPointer { try observe($0) }
    }

    /// Asymmetric quantisation parameters for the observed range; nil before the first batch.
    public func quantization(bits: Int = 8) -> AffineQuantization? {
        guard let minimum, let maximum else { return nil }
        return AffineQuantization(minimum: Float(minimum), maximum: Float(maximum), bits: bits)
    }

    func batchRange(_ values: UnsafeBufferPointer<Float>) -> (Double, Double) {
        guard let percentile else {
            var low = values[0], high = values[0]
            for v in values {
                low = min(low, v)
                high = max(high, v)
            }
            return (Double(low), Double(high))
        }
        let sorted = values.sorted()
        return (percentileOfSorted(sorted, 100 - percentile), percentileOfSorted(sorted, percentile))
    }
}
