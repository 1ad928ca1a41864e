import Foundation
import OLRunFixtures
import OLTestSupport
import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLReports

/// Debian's Chromium, when installed (`make deps-test` installs it).
private let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Decodes an 8-bit RGB(A) PNG with the standard library (zlib, struct) and prints its width, height, the
/// pixels that are not white and the pixels that are clearly coloured (max − min channel > 60).
private let countPixels = """
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR": width, height, depth, colour = struct.unpack(">IIBB", body[:10])
    if kind == b"IDAT": idat += body
    pos += 12 + length
assert depth == 8 and colour in (2, 6), (depth, colour)
bpp = 3 if colour == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
previous, ink, coloured = bytearray(stride), 0, 0
for y in range(height):
    kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        left = row[i - bpp] if i >= bpp else 0
        up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
        if kind == 1: row[i] = (row[i] + left) & 255
        elif kind == 2: row[i] = (row[i] + up) & 255
        elif kind == 3: row[i] = (row[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
    for i in range(0, stride, bpp):
        r, g, b = row[i], row[i + 1], row[i + 2]
        ink += r < 250 or g < 250 or b < 250
        coloured += max(r, g, b) - min(r, g, b) > 60
    previous = row
print(width, height, ink, coloured)
"""

@Suite("olab report pages in a real browser")
struct BrowserRenderingTests {
    /// Renders `html` headless at half scale (a 1200×2400 CSS-pixel window) and returns the pixel counts.
    func render(_ html: String, to png: String) throws -> (width: Int, height: Int, ink: Int, coloured: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium!)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=0.5",
                             "--screenshot=\(png)", "--window-size=1200,2400", "file://\(html)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let (status, output) = try runPython(countPixels, arguments: [png], python: "/usr/bin/python3")
        try #require(status == 0, "\(output)")
        let numbers = output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(numbers.count == 4, "\(output)")
        return (numbers[0], numbers[1], numbers[2], numbers[3])
    }

    @Test(
        "the run report and the sweep report render in Chromium to pictures with text and coloured curves",
        .enabled(if: chromium != nil, "chromium is not installed (make deps-test installs it); the report pages were not rendered")
    )
    func pagesRenderWithCurves() throws {
        let root = try scratchDirectory("report-browser")
        for (index, name) in ["preln", "op", "op-soap"].enumerated() {
            try writeFakeRun(root + "/runs/" + name, config: withConfig(fakeConfig, ["lr": .double(0.001 * Double(index + 1))]), level: Double(3 - index))
        }
        var runs = try ReportGroup.runs(["preln", "op", "op-soap"].map { root + "/runs/" + $0 })
        try writeFakeSweep(root + "/sweep")
        var sweep = try ReportGroup.sweep(root + "/sweep").groups
        for index in runs.indices { try runs[index].loadQuantised(RunReport.quantRequests, compute: false) }
        for index in sweep.indices { try sweep[index].loadQuantised(RunReport.quantRequests, compute: false) }
        try RunReport(title: "runs", groups: runs).write(to: root + "/run-report")
        try RunReport(title: "sweep", groups: sweep).write(to: root + "/sweep-report")
        for page in ["run-report", "sweep-report"] {
            let pixels = try render(root + "/\(page)/report.html", to: root + "/\(page).png")
            #expect(pixels.width == 600 && pixels.height == 1200, "\(page): \(pixels)")
            // A blank page has no ink; text and frames alone have almost no colour: the curves must be drawn.
            #expect(Double(pixels.ink) >= 0.02 * Double(pixels.width * pixels.height), "\(page) is nearly blank: \(pixels)")
            #expect(pixels.coloured >= 500, "\(page) shows no coloured curves: \(pixels)")
        }
    }

    @Test(
        "the audit report renders in Chromium with its summary figure, verdict colours and every claim's figures drawn",
        .enabled(if: chromium != nil, "chromium is not installed (make deps-test installs it); the audit report was not rendered")
    )
    func auditReportRenders() throws {
        let (_, plan, outcomes) = try syntheticAuditOutcomes()
        let root = try scratchDirectory("audit-browser")
        try AuditReport(plan: plan, results: AuditJudging.judge(plan: plan, outcomes: outcomes), outcomes: outcomes, wallSeconds: 1).write(to: root)
        let pixels = try render(root + "/report.html", to: root + "/audit.png")
        #expect(pixels.width == 600 && pixels.height == 1200, "\(pixels)")
        #expect(Double(pixels.ink) >= 0.02 * Double(pixels.width * pixels.height), "the audit report is nearly blank: \(pixels)")
        #expect(pixels.coloured >= 500, "no coloured verdicts or estimates in the first screen: \(pixels)")
    }
}
