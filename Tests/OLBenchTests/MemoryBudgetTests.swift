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
        #expect(memory.budget == memory.parameters + memory.gradients + memory.optimizerState + memory.activationsAndScratch)
        // RSS readings are process-wide and other tests run beside this one, so only their sanity is checked.
        #expect(memory.peakResident > 0 && memory.ratio > 0 && memory.ratio.isFinite)
    }
}
