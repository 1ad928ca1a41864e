import Foundation
import OLTestSupport
import OLRunFixtures
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLReports
@testable import OLRuns
@testable import OLTraining

/// Issue 31: what reports, caches and grids do with hostile or broken input.
@Suite("Reports, caches and grids under hostile input", .serialized)
struct OutputSafetyTests {
    // MARK: Markdown (item 5)

    @Test("markup and line breaks from names reach no report's Markdown as markup, in cells, headings, paragraphs or captions",
          arguments: ["<script>alert(1)</script>", "<svg onload=alert(1)>", "<img src=x onerror=alert(1)>", "a | b\n# forged heading\n| x | y |"])
    func markdownCarriesNoMarkup(hostile: String) {
        let markdown = ReportRenderer.markdown([.heading(2, hostile), .paragraph("Sweep `" + hostile + "`"),
                                                .table(["run", "value"], [[hostile, "1"]]), .figure("f.svg", hostile)])
        for tag in ["<script", "<svg", "<img"] { #expect(!markdown.contains(tag), "\(tag) passed through: \(markdown)") }
        #expect(!markdown.split(separator: "\n").contains { $0.hasPrefix("# forged") }, "a newline started a heading: \(markdown)")
        let tableLines = markdown.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(tableLines.count == 3, "header, rule and one row, got \(tableLines)")
        #expect(tableLines.allSatisfy { $0.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count == 3 }, "a cell split: \(tableLines)")
    }

    @Test("the padded golden-review table escapes the same way as report tables")
    func paddedTableEscapes() {
        let table = MarkdownTable(header: ["name"], rows: [["<b>x</b>|y\nz"]]).rendered()
        #expect(table.contains("&lt;b&gt;x&lt;/b&gt;\\|y<br>z") && table.split(separator: "\n").count == 3, "\(table)")
    }

    // MARK: CSV (item 15)

    @Test("CSV cells a spreadsheet would run as formulas start with an apostrophe; numbers stay numbers", arguments: [
        ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""), ("@SUM(A1)", "'@SUM(A1)"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"), ("\t=1", "'\t=1"), ("-0.5", "-0.5"), ("+1e-3", "+1e-3"), ("preLN", "preLN"),
    ])
    func csvFormulasNeutralised(cell: String, expected: String) {
        #expect(SweepResults.csvField(cell) == expected)
    }

    // MARK: Grid bounds (items 7, 8)

    @Test("grids past the run limit are refused by the overflow-checked count before any other check", arguments: [
        (32, 4, 1), (64, 2, 1), (3, 100, 20), (1, 100_000, 1), (1, 1, 1_000_000),
    ])
    func gridLimitsFirst(axes: Int, valuesPerAxis: Int, seeds: Int) throws {
        // Repeated values and seeds: a check that ran before the limit would complain about those instead.
        let values = "[" + Array(repeating: "1", count: valuesPerAxis).joined(separator: ",") + "]"
        let axisText = (0..<axes).map { "\"a\($0)\": \(values)" }.joined(separator: ",")
        let text = "{\"base\": {}, \"axes\": {\(axisText)}, \"seeds\": [" + Array(repeating: "0", count: seeds).joined(separator: ",") + "]}"
        let error = try #require(throws: OutlierLabError.self) { try SweepGrid(json: try JSONValue.parse(text), source: "grid.json") }
        #expect(error.message.contains("more than the \(SweepGrid.maximumRuns) allowed"), "\(error.message)")
    }

    // MARK: Identifiers (item 2)

    @Test("claim ids that would name files outside --out, or unreadably, are refused when the registry loads", arguments: [
        "../../escaped", "/etc/escaped", "a/b", "nul\u{0}id", "line\nforged", ".hidden", String(repeating: "x", count: 5000), "",
    ])
    func claimIdsRefused(id: String) throws {
        let text = fixtureRegistryJSON.replacingOccurrences(of: #""id": "op-lower""#, with: "\"id\": " + JSONValue.string(id).serialized())
        let error = try #require(throws: OutlierLabError.self) { try ClaimRegistry(json: try JSONValue.parse(text), source: "claims.json") }
        #expect(error.message.hasPrefix("claims.json: claims[0].id") && error.message.utf8.count < 300 && !error.message.contains("\n"), "\(error.message)")
    }

    @Test("arm names with NUL, a line break, an escape sequence or 5,000 characters are refused; the bundled names pass", arguments: [
        "Pre\u{0}LN", "OP\r\nforged", "OP\u{1B}[2J", String(repeating: "β", count: 5000),
    ])
    func armNamesRefused(name: String) throws {
        let text = fixtureRegistryJSON.replacingOccurrences(of: #"{"name": "Pre-LN", "config": {}}"#,
                                                            with: "{\"name\": \(JSONValue.string(name).serialized()), \"config\": {}}")
        #expect(text != fixtureRegistryJSON)
        #expect(throws: OutlierLabError.self) { try ClaimRegistry(json: try JSONValue.parse(text), source: "claims.json") }
        #expect(try ClaimRegistry.bundled().claims.count > 10)
    }

    // MARK: Transient errors (item 6)

    @Test("a cached failure the machine caused (ENOSPC, EIO, EFBIG) is no verdict: the run is not done and is retried", arguments: [ENOSPC, EIO, EFBIG])
    func transientFailureNotCached(code: Int32) throws {
        let runs = try scratchDirectory("transient")
        let spec = try tinySpec()
        try FilePath.makeDirectories(RunSpec.directory(spec.key, in: runs))
        let failure = RunSpec.directory(spec.key, in: runs) + "/" + RunExecution.failureName
        try AtomicFile.write(JSONValue.object(["error": .string("step 3: cannot write x: \(String(cString: strerror(code)))")]).serialized(), to: failure)
        #expect(!RunExecution.isDone(spec, runs: runs))
        #expect(try RunExecution.outcome(of: spec, runs: runs, cached: true) == nil)
        try AtomicFile.write(JSONValue.object(["error": .string("step 7: non-finite gradient in wte")]).serialized(), to: failure)
        #expect(RunExecution.isDone(spec, runs: runs), "a real failure stays a cached verdict")
    }

    // MARK: Seals and the model's own config (items 3, 4)

    @Test("a swapped model is caught by the sweep's cache and by olab report; an edited summary by olab report")
    func foreignModelAndEditedOutputs() throws {
        let directory = try scratchDirectory("foreign")
        let plan = try SweepPlan(grid: try tinyGrid(tinyGridJSON.replacingOccurrences(of: #""lr": [0.001, 0.01]"#, with: #""lr": [0.01]"#)
            .replacingOccurrences(of: #""seeds": [0, 1]"#, with: #""seeds": [0]"#)))
        let runs = directory + "/runs"
        let scheduler = RunScheduler(runs: runs, executable: "", name: "sweep", say: { _ in })
        _ = try scheduler.execute(plan.tasks, on: .inProcess)
        try SweepResults(plan: plan, runs: runs).write(to: directory)
        #expect(try ReportGroup.sweep(directory).groups.count == 2)
        let (a, b) = (RunSpec.directory(plan.runs[0].key, in: runs), RunSpec.directory(plan.runs[1].key, in: runs))

        // olab report: an edited summary.json no longer matches its seal.
        let summary = try FileBytes.readText(b + "/summary.json")
        try AtomicFile.write(summary.replacingOccurrences(of: "\"val_loss\"", with: "\"val_loss\": 0.001, \"was\""), to: b + "/summary.json")
        let edited = try #require(throws: OutlierLabError.self) { try ReportGroup.sweep(directory) }
        #expect(edited.message.contains("summary.json changed"), "\(edited.message)")
        try AtomicFile.write(summary, to: b + "/summary.json")

        // The sweep's cache: seal removed and models swapped; the model's own config gives it away.
        let modelA = try FileBytes.read(a + "/" + Trainer.finalName), modelB = try FileBytes.read(b + "/" + Trainer.finalName)
        unlink(a + "/" + RunExecution.sealName)
        try AtomicFile.write(modelB, to: a + "/" + Trainer.finalName)
        let spec = plan.tasks[0].spec
        #expect(RunExecution.trainedProblem(spec, directory: a)?.contains("model of another config") == true)
        #expect(!RunExecution.isDone(spec, runs: runs))
        // olab report on the run directory itself (no seal to help): refused for the same reason.
        let report = try #require(throws: OutlierLabError.self) { try ReportGroup.runs([a]) }
        #expect(report.message.contains("model of another config"), "\(report.message)")
        var said: [String] = []
        _ = try RunExecution.execute(spec, runs: runs, announce: { said.append($0) })
        #expect(said.contains { $0.contains("does not hold this run") }, "\(said)")
        #expect(RunExecution.modelProblem(directory: a, config: spec.config) == nil)
        let recomputed = try FileBytes.read(a + "/" + Trainer.finalName)
        #expect(SHA256.hex(recomputed) == SHA256.hex(modelA), "the recomputed model is the run's own, bit for bit")
    }

    // MARK: Charts (items 9, 10)

    @Test("values beyond ±1e100 or not finite never reach chart geometry, on linear, log and automatic axes", arguments: [AxisScale.linear, .log, .automatic])
    func hugeValuesLeftOut(scale: AxisScale) {
        let points: [(x: Double, y: Double)] = [(0, 1), (1, 1e308), (2, -1e308), (3, .nan), (4, .infinity), (5, 2), (1e308, 3)]
        let chart = SVGChart(title: "t", xLabel: "x", yLabel: "y", yScale: scale, series: [ChartSeries(name: "s", points: points)])
        #expect(chart.series[0].points.map(\.y) == [1, 2])
        #expect(chart.render().contains("</svg>"))
        let interval = IntervalChart(title: "t", xLabel: "x", rows: [IntervalRow(label: "a", estimate: 1e308, interval: -1e308...1e308, points: [1e300, 2],
                                                                                 colour: "#000", note: "n")], sharedAxis: true)
        #expect(interval.render().contains("</svg>"))
    }

    @Test("a long log is drawn with a bounded number of points per series, its extremes kept", arguments: [100_000, 1_000_001])
    func longLogsDownsampled(count: Int) {
        let points = (0..<count).map { (x: Double($0), y: $0 == count / 3 ? 1e6 : Double($0 % 7)) }
        let band = (0..<count).map { (x: Double($0), low: -1.0, high: $0 == 17 ? 50.0 : 1.0) }
        let chart = SVGChart(title: "t", xLabel: "x", yLabel: "y", yScale: .automatic, series: [ChartSeries(name: "s", points: points, band: band)])
        #expect(chart.series[0].points.count <= ChartSeries.maximumPoints && chart.series[0].band.count <= ChartSeries.maximumPoints)
        #expect(chart.series[0].points.contains { $0.y == 1e6 } && chart.series[0].band.contains { $0.high == 50 }, "a spike was thinned away")
        #expect(chart.series[0].points.map(\.x) == chart.series[0].points.map(\.x).sorted(), "points stay in order")
        #expect(chart.render().utf8.count < 200_000)
    }

    // MARK: Reports as a whole (item 11)

    @Test("a report whose writing fails part way leaves the previous report whole and no temporary file")
    func failedReportLeavesPrevious() throws {
        let directory = try scratchDirectory("staged")
        try ReportFolder.write([("report.md", Array("old md".utf8)), ("report.html", Array("old html".utf8)), ("figures/a.svg", Array("old a".utf8))],
                               to: directory, replace: false)
        // The third file cannot be created (name too long): nothing of the new report may land.
        let tooLong = "figures/" + String(repeating: "n", count: 300) + ".svg"
        #expect(throws: OutlierLabError.self) {
            try ReportFolder.write([("report.md", Array("new md".utf8)), ("report.html", Array("new html".utf8)), (tooLong, [1])], to: directory, replace: false)
        }
        #expect(try FileBytes.readText(directory + "/report.md") == "old md" && FileBytes.readText(directory + "/report.html") == "old html")
        #expect(try FilePath.entries(of: directory).allSatisfy { AtomicFile.temporaryOwner($0) == nil })
        #expect(try FilePath.entries(of: directory + "/figures") == ["a.svg"])
        // A later report replaces its own files and drops the figure it no longer draws.
        try ReportFolder.write([("report.md", Array("new md".utf8))], to: directory, replace: false)
        #expect(try FileBytes.readText(directory + "/report.md") == "new md" && !FilePath.exists(directory + "/figures/a.svg"))
    }

    // MARK: Output paths (items 1, 12)

    @Test("an output file is a new path or, with --overwrite, a regular file; never a device, FIFO, link or directory")
    func outputFilePolicy() throws {
        let directory = try scratchDirectory("policy")
        let fifo = directory + "/fifo", link = directory + "/link", file = directory + "/user.safetensors"
        #expect(mkfifo(fifo, 0o644) == 0 && symlink(directory + "/target", link) == 0)
        try AtomicFile.write("user's", to: file)
        for path in ["/dev/null", "/dev/full", fifo, link, directory] {
            #expect(throws: OutlierLabError.self, "\(path) was accepted") { try OutputPolicy.checkFile(path, replace: true) }
        }
        #expect(throws: OutlierLabError.self) { try OutputPolicy.checkFile(file, replace: false) }
        try OutputPolicy.checkFile(file, replace: true)
        try OutputPolicy.checkFile(directory + "/new.safetensors", replace: false)
    }

    @Test("report folders refuse a user's report.md and anything inside Goldens/, also reached through .. or a link")
    func reportFolderPolicy() throws {
        let directory = try scratchDirectory("folder")
        try AtomicFile.write("mine", to: directory + "/report.md")
        let user = try #require(throws: OutlierLabError.self) { try ReportFolder.write([("report.md", [1])], to: directory, replace: false) }
        #expect(try user.message.contains("--overwrite") && FileBytes.readText(directory + "/report.md") == "mine")
        try ReportFolder.write([("report.md", [1])], to: directory, replace: true)
        try FilePath.makeDirectories(directory + "/Goldens/kernels")
        try AtomicFile.write("{}", to: directory + "/Goldens/MANIFEST.json")
        #expect(symlink(directory + "/Goldens/kernels", directory + "/alias") == 0)
        for target in [directory + "/Goldens", directory + "/Goldens/kernels/new", directory + "/elsewhere/../Goldens/x", directory + "/alias/report"] {
            let error = try #require(throws: OutlierLabError.self) { try ReportFolder.check(target, files: ["report.md"], replace: true) }
            #expect(error.message.contains("golden tree"), "\(target): \(error.message)")
        }
    }

    func tinySpec() throws -> RunSpec {
        let plan = try SweepPlan(grid: try tinyGrid())
        return plan.tasks[0].spec
    }
}
