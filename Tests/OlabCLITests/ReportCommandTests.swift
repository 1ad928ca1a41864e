import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLReports

@Suite("olab report on the command line", .serialized)
struct ReportCommandTests {
    @Test("olab report on a trained run measures every scheme at 8/6/4 bits once, caches it under the audit's names, and writes both pages")
    func reportMeasuresAndCachesQuantisation() throws {
        let directory = try #require(QuantizeCommandTests.run, "training the tiny run failed")
        let run = directory + "/run", out = directory + "/report"
        let first = try runOlab(["report", run, "--out", out])
        try #require(first.status == 0, "stderr: \(first.err)")
        #expect(first.out.contains("\(out)/report.html"))
        for request in RunReport.quantRequests {
            #expect(FilePath.exists(run + "/" + request.fileName), "\(request.fileName) was not cached")
        }
        let measured = first.err.split(separator: "\n").filter { $0.contains(" → ") }.count
        #expect(measured == RunReport.quantRequests.count, "stderr: \(first.err)")
        let again = try runOlab(["report", run, "--out", out])
        #expect(again.status == 0 && !again.err.contains(" → "), "a cached measurement was computed again: \(again.err)")
        let markdown = try FileBytes.readText(out + "/report.md")
        #expect(markdown.contains("| w8a8-static @ 4 bit |") && !markdown.contains("| w8a8-static @ 4 bit | — |"))
        #expect(FilePath.exists(out + "/report.html") && FilePath.exists(out + "/figures/kurtosis.svg"))
    }

    @Test("a path that is neither a run nor a sweep is one clear line and exit status 2")
    func badPathIsOneLine() throws {
        let result = try runOlab(["report", "/nonexistent/run"])
        #expect(result.status == 2 && result.err.contains("/nonexistent/run: neither a run directory"), "stderr: \(result.err)")
        #expect(result.err.split(separator: "\n").count == 1)
    }
}
