import OLCore

/// Which files of a corpus directory are read.
public struct CorpusFilter: Sendable, Equatable {
    /// Only files whose name ends with this (e.g. `".py"`); nil reads every regular file.
    public var suffix: String?
    /// Directories with one of these names are skipped at any depth (e.g. `"test"`, `"site-packages"`).
    public var excludedDirectoryNames: Set<String>

    public init(suffix: String? = nil, excludedDirectoryNames: Set<String> = []) {
        self.suffix = suffix
        self.excludedDirectoryNames = excludedDirectoryNames
    }

    /// Every regular file.
    public static let all = CorpusFilter()
}

/// A byte corpus split into train and validation streams (tokens are bytes, V = 256).
///
/// Reading rules (<doc:Data>): a file is read whole. A directory is walked recursively; its regular files,
/// ordered by relative path compared as UTF-8 bytes (`a.py` < `a/b.py` because `.` < `/`), are concatenated
/// with a single `\n` between consecutive files (none after the last). Symbolic links inside a directory
/// are skipped, neither followed nor read, so a corpus cannot loop or escape its root; the root path itself
/// may be a link. Devices, sockets and FIFOs are skipped. Hidden files are read like any other (use a suffix
/// filter for repositories with `.git`). The first `⌊trainFraction · count⌋` bytes are train, the rest
/// validation; both must be non-empty.
public struct ByteCorpus: Sendable {
    /// Where the bytes came from: the path given, or a synthetic description.
    public let source: String
    /// The files read, as paths relative to `source` in reading order (`[""]` when `source` is a file).
    public let files: [String]
    /// The filter applied to a directory.
    public let filter: CorpusFilter
    /// The fraction of bytes in the train split.
    public let trainFraction: Double
    /// The first part of the bytes.
    public let train: [UInt8]
    /// The rest of the bytes.
    public let validation: [UInt8]

    /// Reads the corpus at `path` (file or directory). A missing path, a directory with no matching file,
    /// no bytes, or an unreadable file throws a one-line error naming the path.
    public init(path: String, filter: CorpusFilter = .all, trainFraction: Double = 0.95) throws {
        try self.init(path: path, filter: filter, trainFraction: trainFraction, readFile: FileBytes.read)
    }

    /// As above, with the file reader injectable so tests can make a file unreadable even as root.
    init(path: String, filter: CorpusFilter, trainFraction: Double, readFile: (String) throws -> [UInt8]) throws {
        guard FilePath.exists(path) else { throw OutlierLabError("corpus \(path) does not exist") }
        var bytes: [UInt8] = []
        let files = FilePath.isDirectory(path) ? try ByteCorpus.listFiles(in: path, filter: filter) : [""]
        for (index, file) in files.enumerated() {
            let full = file.isEmpty ? path : "\(path)/\(file)"
            do {
                if index > 0 { bytes.append(0x0A) }
                bytes += try readFile(full)
            } catch let error as OutlierLabError {
                throw OutlierLabError("corpus \(path): \(error.message)")
            }
        }
        if files.isEmpty {
            let what = filter.suffix.map { "no files ending in \($0)" } ?? "no regular files"
            throw OutlierLabError("corpus \(path) is empty (\(what))")
        }
        guard !bytes.isEmpty else { throw OutlierLabError("corpus \(path) is empty (\(files.count) files, 0 bytes)") }
        try self.init(bytes: bytes, source: path, files: files, filter: filter, trainFraction: trainFraction)
    }

    /// A corpus from bytes already in memory (the synthetic corpus, tests).
    public init(bytes: [UInt8], source: String, files: [String] = [""], filter: CorpusFilter = .all, trainFraction: Double = 0.95) throws {
        guard trainFraction > 0, trainFraction < 1 else {
            throw OutlierLabError("corpus \(source): train fraction \(trainFraction) must be strictly between 0 and 1")
        }
        let trainCount = Int((Double(bytes.count) * trainFraction).rounded(.down))
        guard trainCount > 0, trainCount < bytes.count else {
            throw OutlierLabError("corpus \(source): \(bytes.count) bytes are too few to split \(trainFraction) train / rest validation")
        }
        self.source = source
        self.files = files
        self.filter = filter
        self.trainFraction = trainFraction
        train = Array(bytes[..<trainCount])
        validation = Array(bytes[trainCount...])
    }

    /// Total bytes (train + validation).
    public var byteCount: Int { train.count + validation.count }

    /// SHA-256 of all bytes in reading order (train then validation), hex.
    public var sha256: String {
        var hasher = SHA256()
        hasher.update(train)
        hasher.update(validation)
        return hasher.finalizeHex()
    }

    /// The facts a run records about its data (<doc:Data>: the split is stated in run metadata).
    public var summary: JSONValue {
        let excluded = filter.excludedDirectoryNames.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return .object([
            JSONMember("source", .string(source)),
            JSONMember("file_count", .int(Int64(files.count))),
            JSONMember("suffix", filter.suffix.map(JSONValue.string) ?? .null),
            JSONMember("excluded_directories", .array(excluded.map(JSONValue.string))),
            JSONMember("bytes", .int(Int64(byteCount))),
            JSONMember("train_fraction", .double(trainFraction)),
            JSONMember("train_bytes", .int(Int64(train.count))),
            JSONMember("validation_bytes", .int(Int64(validation.count))),
            JSONMember("split", .string("first \(train.count) bytes train, last \(validation.count) bytes validation")),
            JSONMember("sha256", .string(sha256)),
        ])
    }

    /// The regular files under `directory` that pass `filter`, relative paths in UTF-8 byte order.
    public static func listFiles(in directory: String, filter: CorpusFilter = .all) throws -> [String] {
        var found: [String] = []
        try walk(directory, relative: "", filter: filter, into: &found)
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private static func walk(_ directory: String, relative: String, filter: CorpusFilter, into found: inout [String]) throws {
        guard let handle = opendir(directory) else {
            throw OutlierLabError("corpus directory \(directory) cannot be read: \(errnoText())")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            let path = "\(directory)/\(name)"
            let relativePath = relative.isEmpty ? name : "\(relative)/\(name)"
            var info = stat()
            guard lstat(path, &info) == 0 else { throw OutlierLabError("corpus entry \(path) cannot be examined: \(errnoText())") }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if !filter.excludedDirectoryNames.contains(name) {
                    try walk(path, relative: relativePath, filter: filter, into: &found)
                }
            case S_IFREG:
                if filter.suffix.map({ name.hasSuffix($0) }) ?? true { found.append(relativePath) }
            default:
                continue
            }
        }
    }
}
