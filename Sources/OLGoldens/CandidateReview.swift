#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore

/// A candidate in `golden-candidates/` set against the accepted golden it would replace.
public struct CandidateReview: Sendable {
    public enum Status: String, Sendable {
        /// No accepted golden for this case yet.
        case new
        /// Values, shapes, compare modes, config, seed or kind differ from the accepted golden (or the
        /// accepted golden fails verification).
        case changed
        /// Only provenance differs (harness version, revision, BLAS): accepting would change nothing.
        case unchanged
    }

    /// One table row: a tensor's change between accepted golden and candidate.
    public struct Row: Sendable, Equatable {
        public var tensor: String
        public var change: String
        public var maxAbsoluteChange: String
        public var maxRelativeChange: String
    }

    public var relativePath: String
    public var caseID: String
    public var status: Status
    public var rows: [Row]
    public var candidate: LoadedGolden
}

extension GoldenStore {
    /// Every candidate, compared with the accepted golden of the same path.
    public func reviewCandidates() throws -> [CandidateReview] {
        let manifest = try manifest()
        return try DirectoryListing.files(under: candidatesDirectory).map { relative in
            let path = candidatePath(relative)
            guard relative.hasSuffix(".golden.gz") else {
                throw OutlierLabError("\(path): not a golden candidate (expected <suite>/<case>.golden.gz); remove it")
            }
            let candidate = try LoadedGolden.read(path)
            guard candidate.file.goldenCase.relativePath == relative else {
                throw OutlierLabError("\(path): holds case \(candidate.file.goldenCase.id), which belongs at \(candidate.file.goldenCase.relativePath)")
            }
            let caseID = candidate.file.goldenCase.id
            let hasAccepted = manifest.entries[relative] != nil || FilePath.exists(goldenPath(relative))
            guard hasAccepted else {
                let rows = candidate.file.goldenCase.tensors.map { CandidateReview.Row(tensor: $0.name, change: "new", maxAbsoluteChange: "new", maxRelativeChange: "new") }
                return CandidateReview(relativePath: relative, caseID: caseID, status: .new, rows: rows, candidate: candidate)
            }
            let accepted: LoadedGolden
            do {
                accepted = try loadAccepted(relative, manifest: manifest)
            } catch let error as OutlierLabError {
                let row = CandidateReview.Row(tensor: "-", change: "replaces a golden that fails verification (\(error.message))", maxAbsoluteChange: "-", maxRelativeChange: "-")
                return CandidateReview(relativePath: relative, caseID: caseID, status: .changed, rows: [row], candidate: candidate)
            }
            let rows = Self.changeRows(from: accepted.file.goldenCase, to: candidate.file.goldenCase)
            let unchanged = rows.allSatisfy { $0.change == "unchanged" }
            return CandidateReview(relativePath: relative, caseID: caseID, status: unchanged ? .unchanged : .changed, rows: rows, candidate: candidate)
        }
    }

    /// Rows describing how `new` differs from `old`: case-level fields first, then each tensor.
    static func changeRows(from old: GoldenCase, to new: GoldenCase) -> [CandidateReview.Row] {
        let (problems, _) = Goldens.compare(new, with: GoldenFile(goldenCase: old, provenance: .init(harnessVersion: "", gitRevision: "", blasConfig: "", blasCore: "", blasThreads: 0)))
        var rows = problems.filter { !$0.hasPrefix("tensor ") }.map { CandidateReview.Row(tensor: "-", change: $0, maxAbsoluteChange: "-", maxRelativeChange: "-") }
        let oldByName = Dictionary(old.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newNames = Set(new.tensors.map(\.name))
        for entry in new.tensors {
            guard let previous = oldByName[entry.name] else {
                rows.append(.init(tensor: entry.name, change: "new tensor", maxAbsoluteChange: "new", maxRelativeChange: "new"))
                continue
            }
            rows.append(tensorChange(from: previous, to: entry))
        }
        for entry in old.tensors where !newNames.contains(entry.name) {
            rows.append(.init(tensor: entry.name, change: "removed", maxAbsoluteChange: "-", maxRelativeChange: "-"))
        }
        return rows
    }

    /// How one tensor changed: bitwise identity, shape/dtype change, or the greatest differences.
    static func tensorChange(from old: GoldenTensor, to new: GoldenTensor) -> CandidateReview.Row {
        let (a, g) = (new.tensor, old.tensor)
        guard a.values.dtype == g.values.dtype, a.shape == g.shape else {
            return .init(tensor: new.name, change: "\(g.values.dtype) \(g.shape) → \(a.values.dtype) \(a.shape)", maxAbsoluteChange: "-", maxRelativeChange: "-")
        }
        let bitwise = TensorComparison.compare(actual: a, golden: g, mode: .exact)
        var change = bitwise.passed ? "unchanged" : "\(bitwise.mismatchCount) of \(bitwise.count) elements changed"
        if new.compare != old.compare { change = (bitwise.passed ? "" : change + "; ") + "compare \(old.compare) → \(new.compare)" }
        return .init(
            tensor: new.name, change: change,
            maxAbsoluteChange: bitwise.greatestAbsolute.map { NumberText.general($0.value, digits: 4) } ?? "-",
            maxRelativeChange: bitwise.greatestRelative.map { NumberText.general($0.value, digits: 4) } ?? "-"
        )
    }

    /// The review table printed by `olab golden review`.
    public func reviewTable() throws -> String {
        let reviews = try reviewCandidates()
        guard !reviews.isEmpty else { return "no golden candidates in \(candidatesDirectory)" }
        var table = MarkdownTable(header: ["case", "status", "tensor", "change", "max abs change", "max rel change"])
        for review in reviews {
            for row in review.rows {
                table.rows.append([review.caseID, review.status.rawValue, row.tensor, row.change, row.maxAbsoluteChange, row.maxRelativeChange])
            }
        }
        let needing = reviews.filter { $0.status != .unchanged }.map(\.caseID)
        let footer = needing.isEmpty
            ? "All candidates are unchanged; `olab golden accept` would discard them."
            : "To accept, name these in CHANGELOG.md under \"## [Unreleased]\" with the reason, then run `olab golden accept`: \(needing.joined(separator: ", "))"
        return table.rendered() + "\n" + footer
    }

    /// What `accept` did.
    public struct AcceptResult: Sendable, Equatable {
        public var accepted: [String]
        public var discardedUnchanged: [String]
    }

    /// Moves new and changed candidates into `Goldens/`, rewrites the manifest atomically and removes
    /// all candidates. Refuses unless CHANGELOG.md's `## [Unreleased]` section names every new or changed
    /// golden (its relative path or `suite/case` id), and unless the rest of `Goldens/` verifies.
    @discardableResult
    public func accept() throws -> AcceptResult {
        // One accept at a time; under the lock every temporary file in Goldens/ is a killed accept's.
        try FilePath.makeDirectories(packageRoot + "/.build")
        let lock = try RunDirectoryLock(directory: packageRoot + "/.build", name: "golden-accept.lock")
        defer { lock.release() }
        for directory in DirectoryListing.directories(under: goldensDirectory) { AtomicFile.removeTemporaries(in: directory) }
        for directory in DirectoryListing.directories(under: candidatesDirectory) { AtomicFile.removeTemporaries(in: directory, onlyDeadOwners: true) }

        let reviews = try reviewCandidates()
        guard !reviews.isEmpty else { throw OutlierLabError("no golden candidates in \(candidatesDirectory); record some with GOLDEN_RECORD=missing|failed|all swift test") }
        let replacing = Set(reviews.map(\.relativePath))
        if let problem = try verifyTree(allowEmpty: true).problems.first(where: { !replacing.contains($0.relativePath) }) {
            throw OutlierLabError("refusing to accept while Goldens/ fails verification: \(problem.message)")
        }
        let needing = reviews.filter { $0.status != .unchanged }
        if !needing.isEmpty { try Changelog.requireEntries(for: needing, changelogPath: changelogPath) }

        // Every golden and the manifest are staged (written and flushed under temporary names) before
        // any is renamed into place: a full disk fails while Goldens/ is still exactly as it was.
        var manifest = try manifest()
        var staged: [AtomicFile.StagedFile] = []
        var createdDirectories: [String] = []
        do {
            for review in needing {
                let target = goldenPath(review.relativePath)
                try requireInsideGoldens(target)
                createdDirectories += try FilePath.makeDirectories(FilePath.directory(of: target))
                staged.append(try AtomicFile.stage(try FileBytes.read(review.candidate.path), for: target))
                let file = review.candidate.file
                manifest.entries[review.relativePath] = .init(
                    sha256: review.candidate.contentSHA256, formatVersion: file.formatVersion, harnessVersion: file.provenance.harnessVersion
                )
            }
            try requireInsideGoldens(manifestPath)
            try FilePath.makeDirectories(goldensDirectory)
            staged.append(try AtomicFile.stage(manifest.encoded(), for: manifestPath))
        } catch {
            for file in staged { file.discard() }
            for directory in createdDirectories.reversed() { rmdir(directory) }
            throw error
        }
        // Goldens first, manifest last: an accept killed between renames leaves a mismatch that verify
        // reports, and the candidates are still there to accept again.
        for file in staged { try file.commit() }
        for review in reviews { unlink(review.candidate.path) }
        DirectoryListing.removeIfEmpty(candidatesDirectory)
        return AcceptResult(accepted: needing.map(\.relativePath), discardedUnchanged: reviews.filter { $0.status == .unchanged }.map(\.relativePath))
    }

    /// Refuses a target under `Goldens/` reached through a symbolic link (Goldens itself, a suite
    /// directory or the file): accept never writes outside the tree.
    private func requireInsideGoldens(_ target: String) throws {
        var path = target
        while path.count >= goldensDirectory.count {
            if FilePath.isSymbolicLink(path) {
                throw OutlierLabError("refusing to accept: \(path.escapingControlCharacters) is a symbolic link; Goldens/ must hold real directories and files")
            }
            if path == goldensDirectory { break }
            path = FilePath.directory(of: path)
        }
    }
}

/// The CHANGELOG gate for accepting goldens.
enum Changelog {
    /// The text of the `## [Unreleased]` section (up to the next `## ` heading), nil if there is none.
    static func unreleasedSection(_ text: String) -> String? {
        var inside = false
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                if inside { break }
                let title = line.dropFirst(3).trimmingSpaces.lowercased()
                inside = title == "[unreleased]" || title == "unreleased"
            } else if inside {
                lines.append(line)
            }
        }
        return inside ? lines.joined(separator: "\n") : nil
    }

    /// Case ids named in `text`, by relative path (`kernels/ln.golden.gz`, optionally under `Goldens/`)
    /// or by id (`kernels/ln`), delimited by anything that cannot be part of a name.
    static func namedCases(in text: String) -> Set<String> {
        let tokens = text.split { !($0.isASCII && ($0.isLetter || $0.isNumber || "_-./".contains($0))) }
        return Set(tokens.map { token in
            var name = String(token)
            while name.hasSuffix(".") { name.removeLast() }
            if name.hasPrefix("Goldens/") { name.removeFirst("Goldens/".count) }
            if name.hasSuffix(".golden.gz") { name.removeLast(".golden.gz".count) }
            return name
        })
    }

    static func requireEntries(for reviews: [CandidateReview], changelogPath: String) throws {
        let suggestion = "- Goldens: " + reviews.map { "\($0.caseID) (\($0.status.rawValue))" }.joined(separator: ", ") + " — <why the values changed>"
        guard FilePath.exists(changelogPath), let section = unreleasedSection(try FileBytes.readText(changelogPath)) else {
            throw OutlierLabError("refusing to accept: \(changelogPath) has no \"## [Unreleased]\" section; add one containing the line: \(suggestion)")
        }
        let named = namedCases(in: section)
        let missing = reviews.filter { !named.contains($0.caseID) }
        guard missing.isEmpty else {
            let line = "- Goldens: " + missing.map { "\($0.caseID) (\($0.status.rawValue))" }.joined(separator: ", ") + " — <why the values changed>"
            throw OutlierLabError("refusing to accept: the \"## [Unreleased]\" section of \(changelogPath) does not name \(missing.map(\.caseID).joined(separator: ", ")); add the line: \(line)")
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }
}
