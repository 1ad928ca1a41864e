import Testing
@testable import OLBench
import OLCore

@Suite("Bench memory budget")
struct MemoryBudgetTests {
    @Test("an arm's budget counts its arenas and optimiser state and sums its parts", arguments: ["preLN+adamw", "preLN+soap"])
    func armMemory(arm: String) throws {
        var options = BenchmarkOptions.quick
        options.model = .audit
        options.arms = [arm]
        options.repeats = 1
        options.stepsPerRepeat = 1
        let report = try Benchmark.run(options)
        let result = try #require(report.arms.first)
        let memory = result.memory
        let config = result.arm.model(.audit)
        // Arenas round every tensor up to 16 floats, so they hold at least the parameters.
        #expect(memory.parameters >= result.parameters * 4 && memory.parameters < result.parameters * 4 + config.parameterLayout().specs.count * 64)
        #expect(memory.gradients == memory.parameters)
        // AdamW keeps m and v per parameter (plus step counts); SOAP adds GG and Q per side.
        #expect(memory.optimizerState >= 2 * result.parameters * 4)
        #expect(memory.budget == memory.parameters + memory.gradients + memory.optimizerState + memory.optimizerScratch
                + memory.activationsAndScratch)
        // SOAP's per-worker workspaces are counted; AdamW has none.
        #expect((memory.optimizerScratch > 0) == (arm == "preLN+soap"), "optimiser scratch \(memory.optimizerScratch) B")
        // The caches are counted from the arenas: at least the L + 1 residual taps and the attention
        // probabilities (B·H·T² per layer) of B = 16.
        let (B, N) = (16, 16 * config.seq)
        let floor = ((config.layers + 1) * N * config.width + config.layers * B * config.heads * config.seq * config.seq) * 4
        #expect(memory.activationsAndScratch >= floor, "caches \(memory.activationsAndScratch) B < \(floor) B")
        // RSS readings are process-wide and other tests run beside this one, so only their sanity is checked.
        #expect(memory.peakResident > 0 && memory.ratio > 0 && memory.ratio.isFinite)
    }
}

@Suite("Bench SOAP arithmetic floor")
struct SOAPFloorTests {
    @Test("the SOAP arm reports its own arithmetic and the floor it implies from the same run's numbers")
    func soapFloorFollowsItsDefinition() throws {
        var options = BenchmarkOptions.quick
        options.model = .audit
        options.arms = ["preLN+adamw", "preLN+soap"]
        options.repeats = 1
        let report = try Benchmark.run(options)
        let (adamW, soap) = (try #require(report.arms.first), try #require(report.arms.last))
        #expect(adamW.optimizerArithmetic == nil && report.arithmeticFloorRatio(adamW) == nil)
        let work = try #require(soap.optimizerArithmetic)
        #expect(work.rotations > 0 && work.statistics > 0 && work.refreshPerStep > 0)
        // Timings in a test run beside other tests mean nothing, so only the definition is checked: the
        // AdamW step less its optimiser stage, plus SOAP's flops at the measured peak, over the AdamW step
        // (the same report's numbers; the division and sum give ~1e-16 relative rounding).
        let optimizerStage = try #require(adamW.breakdown.first { $0.stage == "optimizer" }).milliseconds
        let step = adamW.stepMilliseconds.median
        let expected = (step - optimizerStage + work.total / (report.peakGflops * 1e9) * 1000) / step
        let floor = try #require(report.arithmeticFloorRatio(soap))
        #expect(abs(floor - expected) <= 1e-12 * expected, "floor \(floor), by its definition \(expected)")
        let json = report.json.serialized()
        #expect(json.contains("\"floor_ratio_to_preLN_adamw\""), "the JSON names the floor")
        #expect(report.table.contains("lowest possible ×AdamW"), "the table states the floor")
    }
}
