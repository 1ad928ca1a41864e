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
        /// The change as a fraction of the accepted golden's own budget, at its worst element (nil when
        /// the tensor is new, removed or reshaped), with |Δ| and the budget there.
        public var worst: (fraction: Double, difference: Double, budget: Double)? = nil

        public static func == (lhs: Row, rhs: Row) -> Bool {
            (lhs.tensor, lhs.change, lhs.maxAbsoluteChange, lhs.maxRelativeChange) == (rhs.tensor, rhs.change, rhs.maxAbsoluteChange, rhs.maxRelativeChange)
        }
    }

    public var relativePath: String
    public var caseID: String
    public var status: Status
    public var rows: [Row]
    public var candidate: LoadedGolden

    /// Tensor rows that differ from the accepted golden (case-level rows, whose tensor is "-", excluded).
    public var changedTensorRows: [Row] { rows.filter { $0.tensor != "-" && $0.change != "unchanged" } }
    /// Case-level differences (kind, seed, config, a golden that fails verification).
    public var caseLevelChanges: [String] { rows.filter { $0.tensor == "-" }.map(\.change) }
    /// The changed tensor whose change is the largest fraction of its budget.
    /// New, removed and reshaped tensors have no budget fraction and are counted, not ranked.
    public var worstRow: Row? {
        changedTensorRows.filter { $0.worst != nil }.max { $0.worst!.fraction < $1.worst!.fraction }
    }
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
        let budgeted = TensorComparison.compare(actual: a, golden: g, mode: old.compare)
        return .init(
            tensor: new.name, change: change,
            maxAbsoluteChange: bitwise.greatestAbsolute.map { NumberText.general($0.value, digits: 4) } ?? "-",
            maxRelativeChange: bitwise.greatestRelative.map { NumberText.general($0.value, digits: 4) } ?? "-",
            worst: budgeted.worstBudgetFraction.map { ($0.value, budgeted.differenceAtWorst, budgeted.budgetAtWorst) }
        )
    }

    /// The review table printed by `olab golden review`: one row per new or changed golden (its worst
    /// tensor, that tensor's change and budget, how many tensors differ), ≤ 120 columns; `all` lists
    /// every tensor of every candidate instead.
    public func reviewTable(all: Bool = false) throws -> String {
        let reviews = try reviewCandidates()
        guard !reviews.isEmpty else { return "no golden candidates in \(candidatesDirectory)" }
        let needing = reviews.filter { $0.status != .unchanged }
        var lines: [String] = []
        if all {
            var table = MarkdownTable(header: ["case", "status", "tensor", "change", "max abs change", "max rel change"])
            for review in reviews {
                for row in review.rows {
                    table.rows.append([review.caseID, review.status.rawValue, row.tensor, row.change, row.maxAbsoluteChange, row.maxRelativeChange])
                }
            }
            lines.append(table.rendered())
        } else if !needing.isEmpty {
            var table = MarkdownTable(header: ["golden", "status", "tensors changed", "worst tensor", "|Δ| there", "budget there", "× budget"])
            for review in needing {
                let worst = review.worstRow
                table.rows.append([
                    review.caseID, review.status.rawValue,
                    review.status == .new ? "\(review.rows.count) new" : "\(review.changedTensorRows.count) of \(review.candidate.file.goldenCase.tensors.count)",
                    worst.map { Self.clipped($0.tensor, to: 40) } ?? "-",
                    worst?.worst.map { NumberText.general($0.difference, digits: 3) } ?? "-",
                    worst?.worst.map { NumberText.general($0.budget, digits: 3) } ?? "-",
                    worst?.worst.map { $0.fraction.isFinite ? NumberText.general($0.fraction, digits: 3) : "∞" } ?? "-",
                ])
            }
            lines.append(table.rendered())
            for review in needing {
                for change in review.caseLevelChanges { lines.append(Self.clipped("\(review.caseID): \(change)", to: 120)) }
            }
        }
        let unchanged = reviews.count - needing.count
        if unchanged > 0 { lines.append("\(unchanged) candidate\(unchanged == 1 ? "" : "s") unchanged (only provenance differs); accept discards them.") }
        if needing.isEmpty {
            lines.append("Nothing to accept; `olab golden accept` would discard the candidates.")
        } else {
            lines.append("To accept: add a line to CHANGELOG.md under \"## [Unreleased]\" naming each golden with the reason, then")
            lines.append("`make goldens-accept` (replays the candidates with NumPy first). Per tensor: `olab golden review --all`.")
        }
        return lines.joined(separator: "\n")
    }

    static func clipped(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }

    /// What `accept` did.
    public struct AcceptResult: Sendable, Equatable {
        public var accepted: [String]
        public var discardedUnchanged: [String]
    }

    /// Moves new and changed candidates into `Goldens/`, rewrites the manifest atomically and removes
    /// all candidates. Refuses unless the rest of `Goldens/` verifies; unless every new or changed golden
    /// is named, with a reason, by a line of CHANGELOG.md's `## [Unreleased]` section that the committed
    /// CHANGELOG.md (git HEAD) does not have; and, with `replay`, unless the NumPy replay recomputes every
    /// such candidate within its tolerances.
    @discardableResult
    public func accept(replay: CandidateReplay) throws -> AcceptResult {
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
        if !needing.isEmpty {
            try Changelog.requireEntries(for: needing, changelogPath: changelogPath, baseline: Changelog.committed(in: packageRoot))
            try replay.check(needing.map(\.candidate.path), packageRoot: packageRoot)
        }

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

    /// CHANGELOG.md as git HEAD has it: the text accepted goldens were last committed with. Empty outside
    /// a git checkout (or before the file was first committed), so every line then counts as added.
    static func committed(in packageRoot: String) -> String {
        // `./` makes the path relative to `packageRoot`, so a root nested in another checkout has no baseline there.
        guard let result = Subprocess.run(["git", "-C", packageRoot, "show", "HEAD:./CHANGELOG.md"]), result.status == 0 else { return "" }
        return result.output
    }

    /// The entries of `current`'s `[Unreleased]` section that `baseline` does not have, as a multiset (an
    /// entry that appears once more than before counts as added). An entry is a list item with its
    /// wrapped continuation lines joined, or any other non-blank line, so a bullet that names twenty
    /// goldens over four lines and gives its reason on the fifth is one entry.
    static func addedLines(current: String, baseline: String) -> [String] {
        var remaining: [String: Int] = [:]
        for entry in entries(baseline) { remaining[entry, default: 0] += 1 }
        var added: [String] = []
        for entry in entries(unreleasedSection(current) ?? "") {
            if let count = remaining[entry], count > 0 { remaining[entry] = count - 1 } else { added.append(entry) }
        }
        return added
    }

    static func entries(_ text: String) -> [String] {
        var entries: [String] = [], current: [Substring] = []
        func finish() { if !current.isEmpty { entries.append(current.joined(separator: " ")); current = [] } }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingSpaces
            let continues = !current.isEmpty && line.first?.isWhitespace == true
                && !trimmed.hasPrefix("- ") && !trimmed.hasPrefix("* ")
            if trimmed.isEmpty { finish(); continue }
            if !continues { finish() }
            current.append(trimmed)
        }
        finish()
        return entries
    }

    static let placeholder = "<why the values changed>"

    /// The words of `line` that are not golden names or paths (they hold a `/`), statuses or list
    /// punctuation: the reason it gives.
    static func reason(in line: String) -> String {
        let punctuation: Set<Character> = ["-", "–", "—", ":", ",", ";", ".", "(", ")", "[", "]", "`", "*"]
        let labels: Set<String> = ["goldens", "golden", "new", "changed"]
        return line.split { $0.isWhitespace }.compactMap { word -> String? in
            let bare = String(word.drop { punctuation.contains($0) }.reversed().drop { punctuation.contains($0) }.reversed())
            return bare.isEmpty || bare.contains("/") || labels.contains(bare.lowercased()) ? nil : bare
        }.joined(separator: " ")
    }

    static func requireEntries(for reviews: [CandidateReview], changelogPath: String, baseline: String) throws {
        let template = "- Goldens: " + reviews.map { "\($0.caseID) (\($0.status.rawValue))" }.joined(separator: ", ") + " — " + placeholder
        guard FilePath.exists(changelogPath), let text = try? FileBytes.readText(changelogPath), unreleasedSection(text) != nil else {
            throw OutlierLabError("refusing to accept: \(changelogPath) has no \"## [Unreleased]\" section; add one with the line \(template), the reason in place of \(placeholder)")
        }
        let added = addedLines(current: text, baseline: baseline)
        var missing: [String] = [], unexplained: [String] = []
        for review in reviews {
            let naming = added.filter { namedCases(in: $0).contains(review.caseID) }
            if naming.isEmpty { missing.append(review.caseID) }
            else if !naming.contains(where: { line in !line.contains(placeholder) && reason(in: line).split(separator: " ").contains { $0.filter(\.isLetter).count >= 3 } }) {
                unexplained.append(review.caseID)
            }
        }
        if !missing.isEmpty {
            let line = "- Goldens: " + missing.map { id in "\(id) (\(reviews.first { $0.caseID == id }!.status.rawValue))" }.joined(separator: ", ") + " — " + placeholder
            throw OutlierLabError("refusing to accept: no line added to \"## [Unreleased]\" of \(changelogPath) since the last commit names \(missing.joined(separator: ", ")); add \(line), the reason in place of \(placeholder)")
        }
        if !unexplained.isEmpty {
            throw OutlierLabError("refusing to accept: the CHANGELOG line naming \(unexplained.joined(separator: ", ")) gives no reason (\(placeholder) is still there, or no word besides the names); say why the values changed")
        }
    }
}

/// How `accept` checks candidates with the second implementation before moving them in.
public enum CandidateReplay: Sendable {
    /// Run `Goldens/replay/replay.py` on the candidates with this Python (which must import NumPy).
    case numpy(python: String = "/usr/bin/python3")
    /// Accept without the replay (tests of the workflow itself, machines without NumPy; said explicitly).
    case skipped

    func check(_ candidates: [String], packageRoot: String) throws {
        guard case .numpy(let python) = self, !candidates.isEmpty else { return }
        guard let probe = Subprocess.run([python, "-c", "import numpy"]), probe.status == 0 else {
            throw OutlierLabError("refusing to accept: cannot replay the candidates, \(python) cannot import numpy (make deps installs python3-numpy); `olab golden accept --skip-replay` accepts without the replay")
        }
        let script = packageRoot + "/Goldens/replay/replay.py"
        guard let result = Subprocess.run([python, "-B", script] + candidates, capturingErrors: true) else {
            throw OutlierLabError("refusing to accept: cannot start \(python) \(script)")
        }
        guard result.status != 0 else { return }
        let lines = result.output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        // The first golden it rejects, with its worst tensor; else (the replay itself failed) its last word.
        let reason = lines.first { $0.contains(" FAIL ") }.map { "rejects " + $0 }
            ?? "failed (exit \(result.status)): " + (lines.last ?? "no output")
        throw OutlierLabError("refusing to accept: the NumPy replay " + String(reason.prefix(400)).escapingControlCharacters)
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
