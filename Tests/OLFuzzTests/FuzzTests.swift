import Foundation
import OLTestSupport
import Testing
@testable import OLCore
@testable import OLTraining

/// `olab fuzz` in a child process (a crash or hang there fails the test instead of killing the runner),
/// bounded so that all three targets take about two seconds in release; `make fuzz` runs 100k+ each.
@Suite("Fuzzing the readers of outside input", .serialized)
struct FuzzTests {
    @Test("seeded mutations of goldens, safetensors and configs are accepted or rejected with one line; RSS stays small",
          arguments: [("golden", 8_000), ("safetensors", 30_000), ("config", 30_000), ("manifest", 30_000), ("flags", 3_000),
                      ("grid", 3_000), ("registry", 1_000)])
    func fuzzTarget(target: String, iterations: Int) throws {
        let failure = try scratchDirectory("fuzz-\(target)") + "/failure.bin"
        let result = try runOlab(["fuzz", "--target", target, "--iterations", "\(iterations)", "--seed", "20240",
                                  "--max-rss-mb", "128", "--timeout", "20", "--failure-output", failure])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("\(iterations) iterations, seed 20240") && result.out.contains("0 failures"), "\(result.out)")
        #expect(!FilePath.exists(failure))
    }

    @Test("the same seed gives the same run: counts and largest input are reproducible")
    func deterministic() throws {
        let arguments = ["fuzz", "--target", "safetensors", "--iterations", "2000", "--seed", "5"]
        let first = try runOlab(arguments), second = try runOlab(arguments)
        let counts = { (text: String) in text.split(separator: ";")[0] }
        #expect(first.status == 0 && counts(first.out) == counts(second.out))
    }

    @Test("config keys and values holding control characters give a one-line error (a fuzzer finding)")
    func configControlCharacters() throws {
        for text in [#"{"activation": "rel\n"}"#, #"{"wid\nth": 3}"#] {
            do {
                _ = try TrainingConfig(json: try JSONValue.parse(text), source: "c.json")
                Issue.record("expected a rejection")
            } catch let error as OutlierLabError {
                #expect(!error.message.contains("\n"), "\(error.message)")
            }
        }
    }
}
