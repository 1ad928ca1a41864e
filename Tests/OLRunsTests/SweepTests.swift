import Foundation
import OLTestSupport
import OLRunFixtures
import Testing
@testable import OLCore
@testable import OLReports
@testable import OLRuns
@testable import OLTraining

@Suite("Sweep grids and results")
struct SweepTests {
    @Test("a grid expands to axes × seeds, first axis slowest, each run with its overrides and seed")
    func expansion() throws {
        let plan = try SweepPlan(grid: try tinyGrid())
        #expect(plan.runs.map(\.label) == [
            "block=preLN lr=0.001 seed 0", "block=preLN lr=0.001 seed 1", "block=preLN lr=0.01 seed 0", "block=preLN lr=0.01 seed 1",
            "block=op lr=0.001 seed 0", "block=op lr=0.001 seed 1", "block=op lr=0.01 seed 0", "block=op lr=0.01 seed 1",
        ])
        let last = try #require(plan.runs.last)
        #expect(last.config.model.block == .op && last.config.lr == 0.01 && last.config.seed == 1 && last.config.model.width == 16)
        #expect(Set(plan.runs.map(\.key)).count == 8, "every run has its own cache key")
        #expect(plan.tasks.allSatisfy { $0.spec.quantisations == [QuantRequest(scheme: "w8a8-naive", bits: 4)] })
    }

    @Test("a sweep run is keyed by its config on the corpus bytes, the key audit runs use too")
    func sharedCache() throws {
        let run = try #require(try SweepPlan(grid: try tinyGrid()).runs.first)
        #expect(run.key == RunSpec.cacheKey(run.config, corpusFingerprint: RunSpec.syntheticFingerprint))
    }

    @Test("bad grids are refused with one line naming the problem", arguments: [
        (#"[1, 2]"#, "a sweep grid is a JSON object"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": [0], "extra": 1}"#, "unknown key 'extra'"),
        (#"{"axes": {"lr": [0.1]}, "seeds": [0]}"#, "base must be an object"),
        (#"{"base": {"seed": 3}, "axes": {"lr": [0.1]}, "seeds": [0]}"#, "base sets seed"),
        (#"{"base": {}, "axes": {}, "seeds": [0]}"#, "axes must be a non-empty object"),
        (#"{"base": {}, "axes": {"lr": []}, "seeds": [0]}"#, "axis 'lr' must be a non-empty list"),
        (#"{"base": {}, "axes": {"lr": [[0.1]]}, "seeds": [0]}"#, "axis 'lr' must list plain values"),
        (#"{"base": {}, "axes": {"lr": [0.1, 0.1]}, "seeds": [0]}"#, "axis 'lr' lists 0.1 twice"),
        (#"{"base": {}, "axes": {"seed": [1, 2]}, "seeds": [0]}"#, "seed cannot be an axis"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": []}"#, "seeds must be a non-empty list"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": [-1]}"#, "seeds must be non-negative integers"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": [0, 0]}"#, "seed 0 is listed twice"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": [0], "quantisation": [{"scheme": "w9"}]}"#, "every quantisation entry needs a scheme and bits"),
        (#"{"base": {}, "axes": {"lr": [0.1]}, "seeds": [0], "quantisation": [{"scheme": "w8a8-naive", "bits": 3}]}"#, "bits 8, 6 or 4"),
        (#"{"base": {}, "axes": {"a": [1,2,3,4,5,6,7,8,9,10], "b": [1,2,3,4,5,6,7,8,9,10], "c": [1,2,3,4,5,6,7,8,9,10]}, "seeds": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}"#, "expands to 11000 runs"),
    ])
    func badGrids(text: String, expected: String) {
        do {
            _ = try tinyGrid(text)
            Issue.record("accepted: \(text)")
        } catch let error as OutlierLabError {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("\n"), "one line")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("configs the trainer would refuse are refused when the grid is planned, naming the run", arguments: [
        (#"{"base": {}, "axes": {"blok": ["op"]}, "seeds": [0]}"#, "blok"),
        (#"{"base": {"width": 30}, "axes": {"heads": [4]}, "seeds": [0]}"#, "run heads=4 seed 0"),
        (#"{"base": {}, "axes": {"lr": [0.001, -0.1]}, "seeds": [0]}"#, "run lr=-0.1 seed 0"),
    ])
    func badConfigs(text: String, expected: String) throws {
        let grid = try tinyGrid(text)
        #expect(throws: OutlierLabError.self) { try SweepPlan(grid: grid) }
        do { _ = try SweepPlan(grid: grid) } catch let error as OutlierLabError { #expect(error.message.contains(expected), "\(error.message)") }
    }

    @Test("two axis values that make the same config (12 and 12.0 steps) are refused as one run twice")
    func duplicateConfigs() throws {
        let grid = try tinyGrid(#"{"base": {}, "axes": {"steps": [12, 12.0]}, "seeds": [0]}"#)
        do {
            _ = try SweepPlan(grid: grid)
            Issue.record("two equal configs were accepted")
        } catch let error as OutlierLabError {
            #expect(error.message.contains("have the same config"), "\(error.message)")
        }
    }

    @Test("a sweep run in process writes results.csv with one row per run, every value present")
    func results() throws {
        let directory = try scratchDirectory("sweep")
        let plan = try SweepPlan(grid: try tinyGrid())
        let scheduler = RunScheduler(runs: directory + "/runs", executable: "", name: "sweep", say: { _ in })
        let summary = try scheduler.execute(plan.tasks, on: .inProcess)
        #expect(summary.missing.isEmpty && summary.doneBefore.isEmpty)
        let results = try SweepResults(plan: plan, runs: directory + "/runs")
        try results.write(to: directory)
        let lines = try FileBytes.readText(directory + "/results.csv").split(separator: "\n").map(String.init)
        #expect(lines.count == 9)
        #expect(lines[0].hasPrefix("block,lr,seed,steps,final_loss,val_loss,val_ppl,val_ppl_w8a8_naive,w8a8_naive_ratio,ppl_w8a8-naive_4bit,mean_kurtosis"))
        #expect(lines[1].hasPrefix("preLN,0.001,0,12,") && lines[8].hasPrefix("op,0.01,1,12,"))
        #expect(lines.dropFirst().allSatisfy { !$0.contains(",,") && $0.contains(",finished,runs/") }, "no empty cells")
        #expect(!lines[0].contains("wall_time") && !lines[0].contains("tokens_per_s"), "no wall-clock columns")
        let again = try scheduler.execute(plan.tasks, on: .inProcess)
        #expect(again.doneBefore.count == 8, "a second sweep is served from the cache")
        let html = try FileBytes.readText(directory + "/summary.html")
        #expect(html.contains("<svg") && html.contains("val_loss by block"))
    }

    @Test("runs measured along the way add tokens, float and quantised perplexity columns per step after the existing ones")
    func evaluationColumns() throws {
        let directory = try scratchDirectory("sweep-eval-at")
        let plan = try SweepPlan(grid: try tinyGrid(tinyGridJSON.replacingOccurrences(of: #""synthetic_bytes": 65536"#, with: #""synthetic_bytes": 65536, "eval_at": [4, 8]"#)
            .replacingOccurrences(of: #""block": ["preLN", "op"], "lr": [0.001, 0.01]"#, with: #""block": ["preLN"]"#)))
        let scheduler = RunScheduler(runs: directory + "/runs", executable: "", name: "sweep", say: { _ in })
        _ = try scheduler.execute(plan.tasks, on: .inProcess)
        let results = try SweepResults(plan: plan, runs: directory + "/runs")
        try results.write(to: directory)
        let lines = try FileBytes.readText(directory + "/results.csv").split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("block,seed,steps,final_loss,val_loss,val_ppl,val_ppl_w8a8_naive,w8a8_naive_ratio,ppl_w8a8-naive_4bit,mean_kurtosis"))
        #expect(lines[0].hasSuffix(",status,run,tokens@4,val_ppl@4,ppl_w8a8-naive_4bit@4,tokens@8,val_ppl@8,ppl_w8a8-naive_4bit@8"))
        let cells = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(cells.suffix(6).first == "256" && cells.suffix(3).first == "512", "tokens = step · batch 4 · seq 16")
        #expect(!lines[1].contains(",,") && !lines[1].hasSuffix(","), "every point measured")
    }

    @Test("a spec whose config was edited no longer hashes to its key and is refused")
    func editedSpec() throws {
        let directory = try scratchDirectory("spec")
        let task = try #require(try SweepPlan(grid: try tinyGrid()).tasks.first)
        try task.spec.write(in: directory)
        let path = RunSpec.specPath(task.spec.key, in: directory)
        #expect(try RunSpec.load(path) == task.spec)
        let edited = try FileBytes.readText(path).replacingOccurrences(of: "\"steps\": 12", with: "\"steps\": 13")
        try AtomicFile.write(edited, to: path)
        #expect(throws: OutlierLabError.self) { try RunSpec.load(path) }
    }
}
