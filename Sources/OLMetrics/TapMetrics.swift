/// Every outlier-feature metric of one activation tap, computed together so the normalised features and the
/// feature Gram matrix are built once. Log keys are snake_case and fixed: they are the `metrics.jsonl` schema.
public struct TapMetrics: Sendable, Equatable, Codable {
    /// Paper Eq. 1 on the raw activations (`kurtosis`).
    public var kurtosis: Double
    /// The official logger's centred form, ≈ kurtosis − 1 (`kurtosis_centred`).
    public var kurtosisCentred: Double
    /// Max-Median Ratio, lower median (`mmr`); +∞ only if every row has median 0 and a non-zero maximum.
    public var maxMedianRatio: Double
    /// The official logger's form of MMR, on rows centred across the width first (`mmr_centred`).
    public var maxMedianRatioCentred: Double
    /// Mean off-diagonal of f fᵀ/d (`token_corr_mean`).
    public var tokenCorrMean: Double
    /// RMS off-diagonal of f fᵀ/d (`token_corr_rms`).
    public var tokenCorrRMS: Double
    /// RMS off-diagonal of fᵀf/n (`feature_corr_rms`).
    public var featureCorrRMS: Double
    /// Mean off-diagonal token cosine similarity (`token_cosine_mean`).
    public var tokenCosineMean: Double
    /// Global RMS of the raw activations (`activation_rms`).
    public var activationRMS: Double

    enum CodingKeys: String, CodingKey {
        case kurtosis
        case kurtosisCentred = "kurtosis_centred"
        case maxMedianRatio = "mmr"
        case maxMedianRatioCentred = "mmr_centred"
        case tokenCorrMean = "token_corr_mean"
        case tokenCorrRMS = "token_corr_rms"
        case featureCorrRMS = "feature_corr_rms"
        case tokenCosineMean = "token_cosine_mean"
        case activationRMS = "activation_rms"
    }

    public init(
        kurtosis: Double, kurtosisCentred: Double, maxMedianRatio: Double, maxMedianRatioCentred: Double, tokenCorrMean: Double,
        tokenCorrRMS: Double, featureCorrRMS: Double, tokenCosineMean: Double, activationRMS: Double
    ) {
        self.kurtosis = kurtosis
        self.kurtosisCentred = kurtosisCentred
        self.maxMedianRatio = maxMedianRatio
        self.maxMedianRatioCentred = maxMedianRatioCentred
        self.tokenCorrMean = tokenCorrMean
        self.tokenCorrRMS = tokenCorrRMS
        self.featureCorrRMS = featureCorrRMS
        self.tokenCosineMean = tokenCosineMean
        self.activationRMS = activationRMS
    }

    /// All metrics of the tap X ∈ ℝ^{n×d} (row-major). Cost is dominated by the d×d feature Gram matrix,
    /// O(n·d²/2) multiply-adds in Double, threaded deterministically (see `SignalPropagation`).
    public init(activations x: UnsafeBufferPointer<Float>, rows: Int, width: Int) {
        checkShape(x.count, rows: rows, width: width)
        let f = widthCentredNormalised(x, rows: rows, width: width)
        let statistics = f.withUnsafeBufferPointer { FeatureStatistics($0, rows: rows, width: width) }
        self.init(
            kurtosis: OLMetrics.kurtosis(x, rows: rows, width: width),
            kurtosisCentred: statistics.kurtosisCentred,
            maxMedianRatio: OLMetrics.maxMedianRatio(x, rows: rows, width: width),
            maxMedianRatioCentred: OLMetrics.maxMedianRatio(x, rows: rows, width: width, centringRows: true),
            tokenCorrMean: statistics.tokenCorrMean,
            tokenCorrRMS: statistics.tokenCorrRMS,
            featureCorrRMS: statistics.featureCorrRMS,
            tokenCosineMean: statistics.tokenCosineMean,
            activationRMS: OLMetrics.activationRMS(x, rows: rows, width: width)
        )
    }

    /// `init(activations:rows:width:)` on a row-major `[Float]` matrix.
    public init(activations x: [Float], rows: Int, width: Int) {
        self = x.withUnsafeBufferPointer { TapMetrics(activations: $0, rows: rows, width: width) }
    }

    /// The log keys with the property each names, in log order.
    static var fields: [(key: String, path: WritableKeyPath<TapMetrics, Double>)] {
        [
            (CodingKeys.kurtosis, \.kurtosis), (.kurtosisCentred, \.kurtosisCentred), (.maxMedianRatio, \.maxMedianRatio),
            (.maxMedianRatioCentred, \.maxMedianRatioCentred), (.tokenCorrMean, \.tokenCorrMean), (.tokenCorrRMS, \.tokenCorrRMS),
            (.featureCorrRMS, \.featureCorrRMS), (.tokenCosineMean, \.tokenCosineMean), (.activationRMS, \.activationRMS),
        ].map { ($0.0.rawValue, $0.1) }
    }

    /// The log keys in log order.
    public static var keys: [String] { fields.map(\.key) }

    /// The values with their log keys, in log order.
    public var keyedValues: [(key: String, value: Double)] { Self.fields.map { ($0.key, self[keyPath: $0.path]) } }

    /// The value logged under `key`, or nil for an unknown key.
    public subscript(key: String) -> Double? {
        Self.fields.first { $0.key == key }.map { self[keyPath: $0.path] }
    }

    /// Metric-wise mean over taps (layers) in tap order; nil for no taps.
    public static func layerMean(_ taps: [TapMetrics]) -> TapMetrics? {
        guard var result = taps.first else { return nil }
        for field in fields {
            var sum = 0.0
            for tap in taps { sum += tap[keyPath: field.path] }
            result[keyPath: field.path] = sum / Double(taps.count)
        }
        return result
    }

    /// Metric-wise maximum over taps (the worst layer for each metric, not one layer's row); nil for no taps.
    public static func peak(_ taps: [TapMetrics]) -> TapMetrics? {
        guard var result = taps.first else { return nil }
        for field in fields {
            for tap in taps.dropFirst() {
                result[keyPath: field.path] = max(result[keyPath: field.path], tap[keyPath: field.path])
            }
        }
        return result
    }
}

/// Layer-averaged and peak metrics over the taps of one log step, logged as `mean_<key>` and `peak_<key>`.
public struct TapMetricsSummary: Sendable, Equatable, Codable {
    public var layerMean: TapMetrics
    public var peak: TapMetrics

    /// The summary of `taps`; nil for no taps.
    public init?(_ taps: [TapMetrics]) {
        guard let mean = TapMetrics.layerMean(taps), let peak = TapMetrics.peak(taps) else { return nil }
        layerMean = mean
        self.peak = peak
    }

    /// `mean_<key>` for every metric, then `peak_<key>`.
    public var keyedValues: [(key: String, value: Double)] {
        layerMean.keyedValues.map { ("mean_" + $0.key, $0.value) } + peak.keyedValues.map { ("peak_" + $0.key, $0.value) }
    }
}
