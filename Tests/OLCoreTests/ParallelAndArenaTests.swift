import Dispatch
import Testing
@testable import OLCore

@Suite("Parallel loops and arenas")
struct ParallelAndArenaTests {
    @Test("chunk boundaries depend only on the size and chunk size, not on the worker count", arguments: [1, 2, 3, 8])
    func chunkBoundaries(workers: Int) {
        let seen = Mutex()
        nonisolated(unsafe) var ranges: [Range<Int>] = []
        Parallel.withWorkers(workers) {
            Parallel.forEachChunk(count: 103, chunkSize: 10) { range in seen.locked { ranges.append(range) } }
        }
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted == (0..<11).map { $0 * 10 ..< min(103, $0 * 10 + 10) })
    }

    @Test("a chunked reduction combined in index order is bitwise equal with 1 and 2 workers")
    func deterministicReduction() {
        var rng = RandomStream(seed: 1, purpose: "tests")
        let values = (0..<10_000).map { _ in Float(rng.nextNormal()) }
        func chunkedSum() -> Float {
            let partials = UnsafeMutableBufferPointer<Float>.allocate(capacity: 40)
            defer { partials.deallocate() }
            let out = SendablePointer(partials)
            values.withUnsafeBufferPointer { input in
                let source = SendablePointer(UnsafeMutablePointer(mutating: input.baseAddress!))
                Parallel.forEachChunk(count: values.count, chunkSize: 250) { range in
                    var sum: Float = 0
                    for i in range { sum += source[i] }
                    out[range.lowerBound / 250] = sum
                }
            }
            return partials.reduce(0, +)
        }
        let one = Parallel.withWorkers(1) { chunkedSum() }
        let two = Parallel.withWorkers(2) { chunkedSum() }
        #expect(one.bitPattern == two.bitPattern)
    }

    @Test("forEachTask runs every task exactly once, each on a worker index below the requested count",
          arguments: [1, 2, 5])
    func tasksRunOnce(workers: Int) {
        let seen = Mutex()
        nonisolated(unsafe) var runs: [(task: Int, worker: Int)] = []
        Parallel.forEachTask(count: 37, workers: workers) { task, worker in seen.locked { runs.append((task, worker)) } }
        #expect(runs.map(\.task).sorted() == Array(0..<37))
        #expect(runs.allSatisfy { (0..<workers).contains($0.worker) })
        #expect(workers > 1 || runs.map(\.task) == Array(0..<37), "one worker runs the tasks in order")
    }

    @Test("chunked loops inside a task run on the task's own thread, and outside tasks the marker is clear")
    func chunksInsideTasksStayOnTheirThread() {
        let seen = Mutex()
        nonisolated(unsafe) var mismatches = 0
        nonisolated(unsafe) var insideFlags: [Bool] = []
        Parallel.withWorkers(2) {
            Parallel.forEachTask(count: 4, workers: 2) { _, _ in
                let owner = pthread_self()
                Parallel.forEachChunk(count: 100, chunkSize: 10) { _ in
                    if pthread_equal(pthread_self(), owner) == 0 { seen.locked { mismatches += 1 } }
                }
                seen.locked { insideFlags.append(Parallel.isInsideTask) }
            }
        }
        #expect(mismatches == 0)
        #expect(insideFlags == [true, true, true, true])
        #expect(!Parallel.isInsideTask)
    }

    @Test("loops started from two threads at once (one gets the pool, one runs itself) all finish with every chunk done once")
    func concurrentLoopsFromTwoThreads() {
        let count = 5000, rounds = 300
        let outputs = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 2 * count)
        defer { outputs.deallocate() }
        outputs.initialize(repeating: 0)
        let out = SendablePointer(outputs)
        Parallel.withWorkers(2) {
            DispatchQueue.concurrentPerform(iterations: 2) { thread in
                for _ in 0..<rounds {
                    Parallel.forEachChunk(count: count, chunkSize: 64) { range in
                        for i in range { out[thread * count + i] += 1 }
                    }
                }
            }
        }
        #expect(outputs.allSatisfy { $0 == Int32(rounds) })
    }

    @Test("arena views are 64-byte aligned, disjoint and found by name")
    func arenaViews() {
        let layout = ArenaLayout([
            TensorSpec(name: "wte", shape: [256, 5], role: .embedding),
            TensorSpec(name: "beta", shape: [1], role: .scalar),
            TensorSpec(name: "w", shape: [3, 7], role: .matrix),
        ])
        let arena = FloatArena(layout: layout)
        for i in 0..<3 {
            let view = arena.view(i)
            #expect(Int(bitPattern: view.baseAddress!) % 64 == 0)
            view.update(repeating: Float(i + 1))
        }
        #expect(arena.view("wte").allSatisfy { $0 == 1 })
        #expect(arena.view("beta").count == 1 && arena.view("beta")[0] == 2)
        #expect(arena.view("w").allSatisfy { $0 == 3 })
        #expect(layout.parameterCount == 256 * 5 + 1 + 21)
        let copy = arena.clone()
        arena.zero()
        #expect(copy.view("w")[20] == 3 && arena.view("w")[20] == 0)
    }

    @Test("allFinite finds one NaN or infinity at every position, in the 16 lanes and in the tail, and passes the extreme finite values")
    func allFiniteFindsEveryNonFiniteValue() {
        // 37 values: two full 16-lane blocks and a tail of 5, so every position kind is covered.
        var values = [Float](repeating: 1, count: 37)
        values[3] = .greatestFiniteMagnitude
        values[20] = -.greatestFiniteMagnitude
        values[30] = .leastNonzeroMagnitude
        #expect(values.withUnsafeBufferPointer { allFinite($0) }, "the extreme finite values are finite")
        for position in values.indices {
            for bad in [Float.nan, .infinity, -.infinity] {
                var copy = values
                copy[position] = bad
                #expect(!copy.withUnsafeBufferPointer { allFinite($0) }, "\(bad) at \(position) was missed")
            }
        }
        #expect([Float]().withUnsafeBufferPointer { allFinite($0) }, "an empty buffer is finite")
    }
}
