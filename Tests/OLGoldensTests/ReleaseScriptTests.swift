import OLCore
import Testing
@testable import OLGoldens

/// `make release VERSION=x.y.z` (.ci/release.sh) on a scratch copy of the files it edits.
@Suite("make release")
struct ReleaseScriptTests {
    static let changelog = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- A thing.\n\n## [0.3.0] - 2026-12-07\n\n- Old.\n"
    static let harness = "public enum Harness {\n    public static let version = \"0.3.0\"\n}\n"

    /// A temporary root holding the script, a CHANGELOG.md and the file that defines Harness.version.
    static func scratch(changelog: String = changelog) throws -> TemporaryRoot {
        let root = TemporaryRoot()
        let package = try GoldenStore.locatingPackage(from: #filePath).packageRoot
        try root.write(try FileBytes.readText(package + "/.ci/release.sh"), to: ".ci/release.sh")
        try root.write(changelog, to: "CHANGELOG.md")
        try root.write(harness, to: "Sources/OLCore/OutlierLabError.swift")
        return root
    }

    static func release(_ root: TemporaryRoot, _ version: String) throws -> Subprocess.Result {
        try #require(Subprocess.run(["env", "RELEASE_DATE=2026-12-08", "bash", root.path + "/.ci/release.sh", version], capturingErrors: true))
    }

    @Test("closes [Unreleased] into a dated section, keeps an empty [Unreleased] and sets Harness.version")
    func releases() throws {
        let root = try Self.scratch()
        let result = try Self.release(root, "0.4.0")
        #expect(result.status == 0, "\(result.output)")
        let changelog = try FileBytes.readText(root.path + "/CHANGELOG.md")
        #expect(changelog.contains("## [Unreleased]\n\n## [0.4.0] - 2026-12-08\n\n### Added\n\n- A thing.\n\n## [0.3.0] - 2026-12-07"))
        #expect(try FileBytes.readText(root.path + "/Sources/OLCore/OutlierLabError.swift").contains("public static let version = \"0.4.0\""))
    }

    @Test("refuses bad input with one line, exit 2, and changes nothing", arguments: [
        ("", "say which version"), ("1.2", "is not x.y.z"), ("01.4.0", "is not x.y.z"), ("0.4.0; rm -rf /", "is not x.y.z"),
        ("0.3.0", "is not newer"), ("0.2.9", "is not newer"),
    ])
    func refuses(version: String, reason: String) throws {
        let root = try Self.scratch()
        let result = try Self.release(root, version)
        #expect(result.status == 2)
        #expect(result.output.hasPrefix("make release: ") && result.output.contains(reason), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
        #expect(try FileBytes.readText(root.path + "/CHANGELOG.md") == Self.changelog)
        #expect(try FileBytes.readText(root.path + "/Sources/OLCore/OutlierLabError.swift") == Self.harness)
    }

    @Test("refuses an empty [Unreleased]")
    func refusesEmpty() throws {
        let root = try Self.scratch(changelog: "# Changelog\n\n## [Unreleased]\n\n### Added\n\n## [0.3.0] - 2026-12-07\n\n- Old.\n")
        let result = try Self.release(root, "0.4.0")
        #expect(result.status == 2 && result.output.contains("has no entries"), "\(result.output)")
    }
}
