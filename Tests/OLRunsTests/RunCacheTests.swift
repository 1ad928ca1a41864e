import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLRuns
@testable import OLTraining

@Suite("The run cache: site-restricted quantisation requests and evaluations added to a finished run")
struct RunCacheTests {
    @Test("a quantisation request restricted to one site round-trips through its spec file and names its cache file")
    func siteRequests() throws {
        let request = QuantRequest(scheme: "a8-only", bits: 4, site: "1.fc")
        #expect(request.fileName == "quant-a8-only-4bit-site-1.fc.json")
        #expect(QuantRequest(scheme: "a8-only", bits: 4).fileName == "quant-a8-only-4bit.json", "unrestricted requests keep their old cache name")
        let config = try TrainingConfig(json: try JSONValue.parse(#"{"width": 16, "layers": 2, "heads": 2, "seq": 16}"#))
        let key = RunSpec.cacheKey(config, corpusFingerprint: "synthetic")
        let directory = try scratchDirectory("site-spec")
        try RunSpec(key: key, config: config, quantisations: [request], label: "l").write(in: directory)
        #expect(try RunSpec.load(RunSpec.specPath(key, in: directory), corpusFingerprint: { _ in "synthetic" }).quantisations == [request])
        #expect(throws: OutlierLabError.self) { try SchemeEvaluator.site("2.fc", layers: 2) }
        #expect(throws: OutlierLabError.self) { try SchemeEvaluator.site("0.lm_head", layers: 2) }
    }

    @Test("a finished run asked for one more quantised evaluation is evaluated, not retrained, and its seal then covers both")
    func newEvaluationDoesNotRetrain() throws {
        let config = try TrainingConfig(json: try JSONValue.parse(#"{"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 8, "log_every": 4, "checkpoint_every": 0, "eval_windows": 4, "probe_batch": 2, "synthetic_bytes": 65536}"#))
        let key = RunSpec.cacheKey(config, corpusFingerprint: "synthetic")
        let runs = try scratchDirectory("new-evaluation")
        let first = RunSpec(key: key, config: config, quantisations: [QuantRequest(scheme: "w8a8-naive", bits: 4)], label: "first")
        _ = try RunExecution.execute(first, runs: runs)
        let model = try FileBytes.read(runs + "/\(key)/model.safetensors")
        let added = QuantRequest(scheme: "a8-only", bits: 4, site: "1.fc")
        let second = RunSpec(key: key, config: config, quantisations: first.quantisations + [added], label: "second")
        #expect(!RunExecution.isDone(second, runs: runs), "the new evaluation is still to do")
        var lines: [String] = []
        guard case .finished(let record, let cached) = try RunExecution.execute(second, runs: runs, announce: { lines.append($0) }) else {
            Issue.record("the run did not finish"); return
        }
        #expect(cached && !lines.contains("training") && lines.contains("cached"), "\(lines)")
        #expect(record.quantised[added] != nil && record.quantised[first.quantisations[0]] != nil)
        #expect(BitwiseDifference.between(try FileBytes.read(runs + "/\(key)/model.safetensors"), model) == nil, "the model was not retrained")
        #expect(RunExecution.isDone(second, runs: runs) && RunExecution.isDone(first, runs: runs))
        #expect(RunExecution.sealedNames(runs + "/\(key)").isSuperset(of: [added.fileName, first.quantisations[0].fileName]))
    }
}
