import OLCore
import OLData
import OLRuns

/// The text every audit run trains on, fixed once per audit: a user path, else the Python standard library
/// found on this machine (materialised as one file under the output folder, so runs read exactly the
/// filtered `.py` text), else the synthetic corpus as the stated fallback.
public struct AuditCorpus: Sendable, Equatable {
    /// The `corpus` config value: a path or "synthetic".
    public var path: String
    /// SHA-256 of the corpus bytes ("synthetic" for the generator), part of every cache key so that a
    /// changed corpus never reuses old runs.
    public var fingerprint: String
    /// One sentence for the report: what the text is and where it came from.
    public var description: String
    /// Set when the audit fell back to the synthetic corpus, saying why.
    public var fallbackNote: String?

    public init(path: String, fingerprint: String, description: String, fallbackNote: String? = nil) {
        self.path = path
        self.fingerprint = fingerprint
        self.description = description
        self.fallbackNote = fallbackNote
    }

    public static let synthetic = AuditCorpus(path: "synthetic", fingerprint: RunSpec.syntheticFingerprint,
                                              description: "OutlierLab's seeded synthetic code-like corpus")

    /// Resolves `--corpus`: a given path must exist and be readable (clear error otherwise).
    public static func resolve(userPath: String?, outDirectory: String) throws -> AuditCorpus {
        if let userPath {
            if userPath == "synthetic" { return .synthetic }
            let corpus = try ByteCorpus(path: userPath)
            return AuditCorpus(path: userPath, fingerprint: corpus.sha256,
                               description: "\(userPath) (\(corpus.files.count) file(s), \(corpus.byteCount) bytes, given with --corpus)")
        }
        guard let library = DefaultCorpus.pythonStandardLibraryPath() else {
            return AuditCorpus(path: "synthetic", fingerprint: "synthetic", description: synthetic.description,
                               fallbackNote: "no Python standard library was found (python3 on PATH), so the audit used the synthetic corpus")
        }
        let corpus: ByteCorpus
        do {
            corpus = try ByteCorpus(path: library, filter: DefaultCorpus.pythonFilter)
        } catch let error as OutlierLabError {
            return AuditCorpus(path: "synthetic", fingerprint: "synthetic", description: synthetic.description,
                               fallbackNote: "the Python standard library at \(library) could not be read (\(error.message)), so the audit used the synthetic corpus")
        }
        let fingerprint = corpus.sha256
        try FilePath.makeDirectories(outDirectory)
        let file = outDirectory + "/corpus-python-stdlib.txt"
        let existing = FilePath.exists(file) ? try ByteCorpus(path: file).sha256 : nil
        if existing != fingerprint { try AtomicFile.write(corpus.train + corpus.validation, to: file) }
        return AuditCorpus(path: file, fingerprint: fingerprint,
                           description: "Python standard library \(library): \(corpus.files.count) .py files without test suites, \(corpus.byteCount) bytes, concatenated into \(file)")
    }
}
