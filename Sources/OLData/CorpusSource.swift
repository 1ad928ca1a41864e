/// Where a run's bytes come from: the seeded synthetic generator or a file/directory.
public enum CorpusSource: Sendable, Hashable {
    /// `SyntheticCorpus` (always seed 0, so runs differing only in seed see the same text).
    case synthetic
    /// A text file, or a directory of them (`ByteCorpus(path:)`).
    case file(String)

    /// Parses the config spelling: "synthetic", or a path.
    public init(spelling: String) {
        self = spelling == "synthetic" ? .synthetic : .file(spelling)
    }

    /// The config spelling: "synthetic" or the path.
    public var spelling: String {
        switch self {
        case .synthetic: "synthetic"
        case .file(let path): path
        }
    }

    /// The corpus, split at `trainFraction` (the synthetic one `syntheticBytes` long).
    public func load(syntheticBytes: Int, trainFraction: Double) throws -> ByteCorpus {
        switch self {
        case .synthetic: try SyntheticCorpus.corpus(seed: 0, byteCount: syntheticBytes, trainFraction: trainFraction)
        case .file(let path): try ByteCorpus(path: path, trainFraction: trainFraction)
        }
    }
}
