import Foundation
import OLTestSupport
import XCTest
@testable import OLCore
@testable import OLGoldens

/// The `olab` tool as a user drives it, through the built binary (XCTest: one process per scenario).
final class CommandLineXCTests: XCTestCase {
    /// The package root: the nearest folder above this file holding Package.swift.
    private var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    func testOlabGoldenVerifyChecksEveryAcceptedGoldenAndExitsZero() throws {
        let manifest = try GoldenManifest.read(goldensDirectory: packageRoot + "/Goldens")
        let result = try runOlab(["golden", "verify", "--root", packageRoot])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("verified \(manifest.entries.count) goldens"), result.out)
        let versions = GoldenStore.recordingVersions(of: Array(manifest.entries.keys), manifest: manifest)
        XCTAssertTrue(result.out.contains(GoldenStore.describeRecordingVersions(versions)), "no per-version count: \(result.out)")
        XCTAssertGreaterThan(manifest.entries.count, 40, "the accepted golden set covers kernels, optimisers, metrics and training")
    }

    func testOlabHelpListsEverySubcommandAUserNeeds() throws {
        let result = try runOlab(["--help"])
        XCTAssertEqual(result.status, 0)
        for command in ["train", "eval", "metrics", "bench", "audit", "golden", "fuzz"] {
            XCTAssertTrue(result.out.contains("  \(command)"), "olab --help does not list \(command):\n\(result.out)")
        }
    }

    func testBenchJSONHasTheDocumentedKeysAndItsDerivedNumbersAgree() throws {
        // --quick: 2 repeats of 2 steps, about 7 s for these two arms; timings are not judged, only the
        // contract: keys present and every derived number computed from the ones it derives from.
        let result = try runOlab(["bench", "--quick", "--json", "--arm", "preLN+adamw", "--arm", "preLN+soap"])
        XCTAssertEqual(result.status, 0, result.err)
        let report = try JSONValue.parse(result.out)
        let sgemm = try XCTUnwrap(report["sgemm_gflops"]?.objectMembers)
        let peak = try XCTUnwrap(report["sgemm_gflops"]?["peak"]?.doubleValue)
        let shapeMedians = sgemm.filter { $0.key != "peak" }.compactMap { $0.value["gflops"]?.doubleValue }
        XCTAssertEqual(shapeMedians.count, sgemm.count - 1, "every sgemm shape reports gflops")
        XCTAssertEqual(peak, try XCTUnwrap(shapeMedians.max()), "the peak is the fastest measured shape")
        let arms = try XCTUnwrap(report["arms"]?.arrayValue)
        XCTAssertEqual(arms.compactMap { $0["name"]?.stringValue }, ["preLN+adamw", "preLN+soap"])
        var steps: [Double] = []
        for arm in arms {
            let step = try XCTUnwrap(arm["step_ms"]?.doubleValue), flops = try XCTUnwrap(arm["flops_per_step"]?.doubleValue)
            XCTAssertGreaterThan(step, 0)
            steps.append(step)
            // 16 × 128 tokens per step; relative 1e-12: the same Double arithmetic, printed with full precision.
            XCTAssertEqual(try XCTUnwrap(arm["tokens_per_s"]?.doubleValue), 2048 / (step / 1000), accuracy: 1e-12 * 2048 / (step / 1000))
            let gflops = flops / (step / 1000) / 1e9
            XCTAssertEqual(try XCTUnwrap(arm["model_gflops"]?.doubleValue), gflops, accuracy: 1e-12 * gflops)
            XCTAssertEqual(try XCTUnwrap(arm["mfu"]?.doubleValue), gflops / peak, accuracy: 1e-12)
        }
        XCTAssertEqual(try XCTUnwrap(arms[0]["step_ratio_to_preLN_adamw"]?.doubleValue), 1)
        XCTAssertEqual(try XCTUnwrap(arms[1]["step_ratio_to_preLN_adamw"]?.doubleValue), steps[1] / steps[0], accuracy: 1e-12)
        XCTAssertNotNil(report["breakdown"]?["preLN+soap"]?["stages"]?.arrayValue?.first { $0["stage"]?.stringValue == "optimizer" })
        XCTAssertGreaterThan(try XCTUnwrap(report["peak_rss_mb"]?.doubleValue), 1)
    }

    func testBenchOnTheAuditModelTrainsTheAuditsSizeAndRefusesAnUnknownModel() throws {
        let result = try runOlab(["bench", "--quick", "--json", "--model", "audit", "--arm", "preLN+adamw"])
        XCTAssertEqual(result.status, 0, result.err)
        let report = try JSONValue.parse(result.out)
        XCTAssertEqual(report["model"]?["size"]?.stringValue, "audit")
        XCTAssertEqual(report["model"]?["width"]?.intValue, 64)
        XCTAssertEqual(report["model"]?["seq"]?.intValue, 64)
        let arm = try XCTUnwrap(report["arms"]?.arrayValue?.first)
        let step = try XCTUnwrap(arm["step_ms"]?.doubleValue)
        // 16 × 64 tokens per step on the audit model.
        XCTAssertEqual(try XCTUnwrap(arm["tokens_per_s"]?.doubleValue), 1024 / (step / 1000), accuracy: 1e-12 * 1024 / (step / 1000))
        let bad = try runOlab(["bench", "--model", "huge"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--model must be one of bench|audit|regime"), bad.err)
    }

    func testEvalReportsFloatAndQuantisedPerplexityOfAFreshCheckpointAsJSON() throws {
        let directory = try scratchDirectory("xc-eval")
        let train = try runOlab(["train", "--width", "32", "--layers", "2", "--heads", "4", "--seq", "32", "--batch", "8",
                                 "--steps", "20", "--synthetic-bytes", "200000", "--eval-windows", "8", "--out", directory + "/run"])
        XCTAssertEqual(train.status, 0, train.err)
        let eval = try runOlab(["eval", "--checkpoint", directory + "/run/model.safetensors", "--quant", "w8a8-naive"])
        XCTAssertEqual(eval.status, 0, eval.err)
        let report = try JSONValue.parse(eval.out)
        let ppl = try XCTUnwrap(report["ppl"]?.doubleValue), quantised = try XCTUnwrap(report["ppl_quant"]?.doubleValue)
        // 20 steps from ln 256: perplexity well below 256 and above 1; 8-bit naive moves it by < 5 %
        // on a model this small (measured ≈ 0.01 %), so a broken scheme or a swapped field shows.
        XCTAssertTrue(ppl > 1 && ppl < 256, "ppl \(ppl)")
        XCTAssertEqual(quantised / ppl, try XCTUnwrap(report["ratio"]?.doubleValue), accuracy: 1e-12)
        XCTAssertEqual(quantised, ppl, accuracy: 0.05 * ppl)
        XCTAssertEqual(report["scheme"]?.stringValue, "w8a8-naive")
        let summary = try JSONValue.parse(try FileBytes.readText(directory + "/run/summary.json"))
        XCTAssertEqual(try XCTUnwrap(summary["val_ppl"]?.doubleValue), ppl, accuracy: 1e-9 * ppl,
                       "olab eval and the run summary evaluate the same windows the same way")
        // Both give the perplexity's own resolution: the same seeded bootstrap over the same 8 windows.
        let interval = try XCTUnwrap(report["ppl_ci95"]?.arrayValue?.compactMap(\.doubleValue))
        XCTAssertEqual(interval.count, 2)
        XCTAssertTrue(interval[0] < ppl && ppl < interval[1], "ppl_ci95 \(interval) around \(ppl)")
        let summaryInterval = try XCTUnwrap(summary["val_ppl_ci95"]?.arrayValue?.compactMap(\.doubleValue))
        for (a, b) in zip(summaryInterval, interval) { XCTAssertEqual(a, b, accuracy: 1e-9 * b) }
        XCTAssertEqual(summary["val_tokens"]?.intValue, 8 * 32)
        XCTAssertNotNil(report["delta_ppl_ci95"]?.arrayValue)
    }

    func testLinearTapsFlagLogsLinearInputMetricsAndOlabMetricsReportsThem() throws {
        let directory = try scratchDirectory("xc-linear-taps")
        let train = try runOlab(["train", "--width", "32", "--layers", "2", "--heads", "4", "--seq", "32", "--batch", "4",
                                 "--steps", "2", "--log-every", "1", "--synthetic-bytes", "200000", "--eval-windows", "4",
                                 "--linear-taps", "--out", directory + "/run"])
        XCTAssertEqual(train.status, 0, train.err)
        let config = try JSONValue.parse(try FileBytes.readText(directory + "/run/config.json"))
        XCTAssertEqual(config["linear_taps"], true)
        let lastLine = try XCTUnwrap(try FileBytes.readText(directory + "/run/metrics.jsonl").split(separator: "\n").last)
        XCTAssertEqual(try JSONValue.parse(String(lastLine))["qkv_in_kurtosis"]?.arrayValue?.count, 2, "one value per block")
        let metrics = try runOlab(["metrics", "--checkpoint", directory + "/run/model.safetensors"])
        XCTAssertEqual(metrics.status, 0, metrics.err)
        let report = try JSONValue.parse(metrics.out)
        XCTAssertEqual(report["mlp_proj_in_mmr_centred"]?.arrayValue?.count, 2, "olab metrics follows the run's linear_taps")
        XCTAssertEqual(report["kurtosis"]?.arrayValue?.count, 3, "the residual taps are still there")
    }
}
