import OLAudit
import OLCore
import OLGoldens
import OLRuns
import OLTraining

/// The per-target check: true if the reader accepted the input, false if it rejected it cleanly.
enum FuzzChecks {
    static func check(_ target: Fuzzer.Target, _ input: [UInt8]) throws -> Bool {
        let source = Fuzzer.source
        do {
            switch target {
            case .safetensors:
                let contents = try Safetensors.decode(input, source: source)
                let once = try Safetensors.encode(contents.tensors, metadata: contents.metadata)
                let twice = try Safetensors.encode(Safetensors.decode(once).tensors, metadata: contents.metadata)
                guard once == twice else { throw FuzzFailure(reason: "an accepted file does not re-encode to a fixed point") }
            case .golden:
                let content = try Gzip.decompress(input, limit: Fuzzer.goldenDecompressedLimit, source: source)
                let file = try GoldenFile.decode(content, source: source)
                let once = try file.encoded()
                guard try GoldenFile.decode(once, source: source).encoded() == once else {
                    throw FuzzFailure(reason: "an accepted golden does not re-encode to a fixed point")
                }
            case .config:
                let config = try TrainingConfig(json: try JSONValue.parse(bytes: input, source: source), source: source)
                let again = try TrainingConfig(json: try JSONValue.parse(config.json.serialized(), source: source), source: source)
                guard again == config else { throw FuzzFailure(reason: "an accepted config does not survive config.json and back") }
                _ = try? config.requireFitsInMemory(source: source)
            case .manifest:
                let manifest = try GoldenManifest.decode(input, source: source)
                if let escaping = manifest.entries.keys.first(where: { GoldenManifest.pathProblem($0) != nil }) {
                    throw FuzzFailure(reason: "an accepted manifest lists a path that leaves Goldens/: \(escaping.debugDescription)")
                }
                guard try GoldenManifest.decode(manifest.encoded(), source: source) == manifest else {
                    throw FuzzFailure(reason: "an accepted manifest does not re-encode to a fixed point")
                }
            case .flags:
                return false  // checked by the command line's parser (`Fuzzer.flags`)
            case .grid:
                // What `olab sweep --dry-run` does before it lists: load, bound and expand the grid.
                let grid = try SweepGrid(json: try JSONValue.parse(bytes: input, source: source), source: source)
                let plan = try SweepPlan(grid: grid, corpus: "synthetic", source: source)
                let expected = grid.axes.reduce(grid.seeds.count) { $0 * $1.values.count }
                guard plan.runs.count == expected, expected <= SweepGrid.maximumRuns else {
                    throw FuzzFailure(reason: "an accepted grid expands to \(plan.runs.count) runs, not \(expected) within \(SweepGrid.maximumRuns)")
                }
            case .registry:
                let registry = try ClaimRegistry(json: try JSONValue.parse(bytes: input, source: source), source: source)
                for claim in registry.claims {
                    guard (try? Identifier.checkFileName(claim.id, "id")) != nil,
                          claim.arms.allSatisfy({ (try? Identifier.checkLabel($0.name, "arm")) != nil }) else {
                        throw FuzzFailure(reason: "an accepted registry has a claim id or arm name that cannot be a file name or label: \(claim.id.debugDescription)")
                    }
                }
            }
            return true
        } catch let error as OutlierLabError {
            guard error.message.hasPrefix(source), !error.message.contains("\n") else {
                throw FuzzFailure(reason: "the error is not one line starting with the input's name: \(error.message.debugDescription)")
            }
            return false
        } catch let failure as FuzzFailure {
            throw failure
        } catch {
            throw FuzzFailure(reason: "an error that is not an OutlierLabError: \(error)")
        }
    }
}
