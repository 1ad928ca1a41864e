import ArgumentParser
import OLCore
import OLGoldens

/// `olab golden …`: inspect, verify, review and accept golden files.
struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Verify, inspect, review and accept golden files (Goldens/ and golden-candidates/).",
        subcommands: [Verify.self, Show.self, Diff.self, Review.self, Accept.self]
    )

    /// The package whose Goldens/ a command works on.
    struct RootOption: ParsableArguments {
        @Option(name: .long, help: "The package root (holding Package.swift and Goldens/); default: found upward from the working directory.")
        var root: String?

        func store() throws -> GoldenStore {
            if let root {
                guard FilePath.isDirectory(root) else { throw ValidationError("--root \(root) is not a directory") }
                return GoldenStore(packageRoot: root)
            }
            return try GoldenStore.locatingPackage(from: ".")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check Goldens/MANIFEST.json and that every golden (or those under PATH) is listed, intact and parses; say how many goldens each harness version recorded."
        )

        @OptionGroup var rootOption: RootOption
        @Argument(help: "A golden file or folder, inside Goldens/ or relative to it.")
        var path: String?

        func run() throws {
            let store = try rootOption.store()
            let subpath = path.map { relativeToGoldens($0, store: store) }
            let (verified, problems) = try store.verifyTree(subpath: subpath)
            for problem in problems { writeStandardError(problem.message + "\n") }
            guard problems.isEmpty else {
                throw OutlierLabError("\(problems.count) of \(verified.count + problems.count) goldens failed verification")
            }
            let versions = GoldenStore.recordingVersions(of: verified, manifest: try store.manifest())
            try printResult("verified \(verified.count) goldens against \(store.manifestPath); " + GoldenStore.describeRecordingVersions(versions))
        }

        private func relativeToGoldens(_ path: String, store: GoldenStore) -> String {
            var text = path
            for prefix in [store.goldensDirectory + "/", "Goldens/", "./Goldens/"] where text.hasPrefix(prefix) {
                text.removeFirst(prefix.count)
                break
            }
            return text == "Goldens" || text == store.goldensDirectory ? "" : text
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a golden's header and per-tensor statistics.")

        @Argument(help: "A .golden.gz file.")
        var file: String

        func run() throws { try printResult(GoldenInspection.show(file)) }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two golden files or trees tensor by tensor (e.g. Goldens .build/golden-actual); exits 1 if they differ."
        )

        @Argument(help: "The reference golden file or tree; its compare modes decide 'within tolerance'.")
        var treeA: String
        @Argument(help: "The golden file or tree compared with it.")
        var treeB: String

        func run() throws {
            let (table, differs) = try GoldenInspection.diff(treeA, treeB)
            try printResult(table)
            if differs { throw ExitCode(1) }
        }
    }

    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tabulate golden candidates against the accepted goldens they would replace.")

        @OptionGroup var rootOption: RootOption
        @Flag(help: "List every tensor of every candidate (the long form) instead of one row per changed golden.")
        var all = false

        func run() throws { try printResult(rootOption.store().reviewTable(all: all)) }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay golden candidates with NumPy, then move them into Goldens/ and rewrite the manifest; requires a new CHANGELOG.md line naming each with its reason."
        )

        @OptionGroup var rootOption: RootOption
        @Flag(help: "Accept without replaying the candidates with NumPy (where NumPy cannot be installed).")
        var skipReplay = false

        func run() throws {
            let store = try rootOption.store()
            let result = try store.accept(replay: skipReplay ? .skipped : .numpy())
            for path in result.accepted { try printResult("accepted \(store.goldenPath(path))") }
            for path in result.discardedUnchanged { try printResult("discarded unchanged candidate \(path)") }
            try printResult("updated \(store.manifestPath)")
        }
    }
}
