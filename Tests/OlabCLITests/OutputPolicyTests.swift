import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

/// Issue 31 on the command line: output paths, audit errors and workers that outlive their sweep.
@Suite("Output paths, audit errors and workers on the command line", .serialized)
struct OutputPolicyTests {
    @Test("olab quantize --out refuses a device, a FIFO, a symbolic link and a user's file; --overwrite replaces only a regular file")
    func quantizeOutPolicy() throws {
        let directory = try #require(QuantizeCommandTests.run, "training the tiny run failed")
        let scratch = try scratchDirectory("quantize-out")
        let fifo = scratch + "/fifo", link = scratch + "/link", user = scratch + "/user.safetensors"
        #expect(mkfifo(fifo, 0o644) == 0 && symlink(scratch + "/elsewhere", link) == 0)
        try AtomicFile.write("a user's file", to: user)
        let checkpoint = directory + "/run/model.safetensors"
        for out in ["/dev/null", fifo, link, user, scratch] {
            let result = try runOlab(["quantize", "--checkpoint", checkpoint, "--out", out])
            #expect(result.status == 2 && result.err.hasPrefix("error: ") && result.err.split(separator: "\n").count == 1, "\(out): \(result.err)")
        }
        #expect(try FileBytes.readText(user) == "a user's file")
        #expect(FilePath.isSymbolicLink(link) && !FilePath.exists(scratch + "/elsewhere"))
        var info = stat()
        #expect(lstat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR, "/dev/null is still a device")
        #expect(lstat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        let replaced = try runOlab(["quantize", "--checkpoint", checkpoint, "--out", user, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.err)")
        #expect(try FileBytes.read(user).count > 1000, "the quantised model replaced the user's file when asked")
    }

    @Test("olab report and olab sweep --out refuse a user's files and Goldens/, before any work, in one line")
    func reportAndSweepOutPolicy() throws {
        let directory = try #require(QuantizeCommandTests.run, "training the tiny run failed")
        let scratch = try scratchDirectory("report-out")
        try FilePath.makeDirectories(scratch + "/mine")
        try AtomicFile.write("my notes", to: scratch + "/mine/report.md")
        try FilePath.makeDirectories(scratch + "/Goldens")
        try AtomicFile.write("{}", to: scratch + "/Goldens/MANIFEST.json")
        for out in [scratch + "/mine", scratch + "/Goldens/report", scratch + "/x/../Goldens"] {
            let result = try runOlab(["report", directory + "/run", "--out", out, "--cached-quant-only"])
            #expect(result.status == 2 && result.err.split(separator: "\n").count == 1, "\(out): \(result.err)")
        }
        #expect(try FileBytes.readText(scratch + "/mine/report.md") == "my notes")
        #expect(try FilePath.entries(of: scratch + "/Goldens") == ["MANIFEST.json"])
        try AtomicFile.write(#"{"base": {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 12, "synthetic_bytes": 65536}, "axes": {"block": ["preLN", "op"]}, "seeds": [0]}"#, to: scratch + "/grid.json")
        try AtomicFile.write("a,b\n", to: scratch + "/mine/results.csv")
        for out in [scratch + "/mine", scratch + "/Goldens"] {
            let result = try runOlab(["sweep", scratch + "/grid.json", "--out", out, "--dry-run"])
            #expect(result.status == 2 && result.err.split(separator: "\n").count == 1 && result.out.isEmpty, "\(out): \(result.err)")
        }
        #expect(try FileBytes.readText(scratch + "/mine/results.csv") == "a,b\n")
    }

    @Test("olab audit errors take the one-line safeguard: control characters escaped, 2,000 bytes at most, exit status 2")
    func auditErrorsOneLine() throws {
        let scratch = try scratchDirectory("audit-errors")
        let forged = "x\nerror: forged second line\u{1B}[2J" + String(repeating: "y", count: 5000)
        let registry = try String(contentsOfFile: Self.tinyClaimsPath, encoding: .utf8)
        let quoted = JSONValue.string(forged).serialized()
        try AtomicFile.write(registry.replacingOccurrences(of: #""id": "op-lower""#, with: "\"id\": \(quoted)"), to: scratch + "/id.json")
        try AtomicFile.write(registry.replacingOccurrences(of: #"{"name": "Pre-LN", "config": {}}"#, with: "{\"name\": \"Pre-LN\", \"config\": {\(quoted): 1}}"),
                             to: scratch + "/key.json")
        for arguments in [["--registry", scratch + "/id.json"], ["--registry", scratch + "/key.json"], ["--registry", scratch + "/missing.json"]] {
            let result = try runOlab(["audit", "--dry-run", "--out", scratch + "/out", "--corpus", "synthetic"] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.err)")
            #expect(result.err.hasPrefix("error: ") && result.err.split(separator: "\n").count == 1 && result.err.utf8.count < 2200, "\(result.err)")
            #expect(!result.err.contains("\u{1B}"), "a raw escape sequence reached the terminal")
        }
    }

    static let tinyClaimsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Slurm/tiny-claims.json").path
}
