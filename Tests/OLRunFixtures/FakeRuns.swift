import OLCore
import OLReports
import OLRuns

/// A run directory with the files `olab train` leaves (no model): a config, `steps`+1 logged steps whose
/// metrics grow with `level`, a summary, and every quantised measurement already cached.
public func writeFakeRun(_ directory: String, config: [JSONMember], level: Double, steps: Int = 4, taps: Int = 3) throws {
    try FilePath.makeDirectories(directory)
    try AtomicFile.write(JSONValue.object(config).serialized(pretty: true), to: directory + "/config.json")
    let lines = (0...steps).map { k -> String in
        let growth = level * Double(k)
        func perTap(_ base: Double) -> JSONValue { .array((0..<taps).map { .double(base + growth * Double($0 + 1)) }) }
        return JSONValue.object([
            JSONMember("step", .int(Int64(10 * k))), JSONMember("loss", .double(4 - Double(k) / 2)), JSONMember("probe_loss", .double(4.2 - Double(k) / 2)),
            JSONMember("kurtosis", perTap(1)), JSONMember("kurtosis_centred", perTap(0)), JSONMember("mmr", perTap(3)),
            JSONMember("attention_entropy", .array((1..<taps).map { _ in .double(2 - growth / 10) })), JSONMember("cum_u42", perTap(0)),
        ]).serialized() + "\n"
    }
    try AtomicFile.write(lines.joined(), to: directory + "/metrics.jsonl")
    try AtomicFile.write(JSONValue.object(["final_loss": .double(2), "val_loss": .double(2.1 + level), "val_ppl": .double(8)]).serialized(), to: directory + "/summary.json")
    for request in RunReport.quantRequests {
        try QuantisedPerplexity(floatPPL: 8, quantisedPPL: 8 + level * Double(9 - request.bits)).write(request, in: directory)
    }
}

public let fakeConfig: [JSONMember] = [JSONMember("model", .object(["block": "preLN", "width": 64])), JSONMember("lr", .double(0.001)),
                                JSONMember("seed", .int(0)), JSONMember("steps", .int(40))]

public func withConfig(_ config: [JSONMember], _ changes: [String: JSONValue]) -> [JSONMember] {
    config.map { member in
        if let value = changes[member.key] { return JSONMember(member.key, value) }
        guard member.key == "model", let nested = member.value.objectMembers else { return member }
        return JSONMember("model", .object(nested.map { JSONMember($0.key, changes["model." + $0.key] ?? $0.value) }))
    }
}

/// A sweep output directory: `results.jsonl` over the axes `block` × seed, the runs under `runs/`.
public func writeFakeSweep(_ directory: String, seeds: [Int] = [0, 1, 2]) throws {
    var rows = ""
    for (b, block) in ["preLN", "op"].enumerated() {
        for seed in seeds {
            let key = "key-\(block)-\(seed)"
            try writeFakeRun(directory + "/runs/" + key, config: withConfig(fakeConfig, ["model.block": .string(block), "seed": .int(Int64(seed))]),
                             level: Double(2 - b) + Double(seed) / 10)
            rows += JSONValue.object([JSONMember("block", .string(block)), JSONMember("seed", .int(Int64(seed))),
                                      JSONMember("status", "finished"), JSONMember("run", .string("runs/" + key))]).serialized() + "\n"
        }
    }
    rows += JSONValue.object([JSONMember("block", "op"), JSONMember("seed", 9), JSONMember("status", "missing"), JSONMember("run", "runs/none")]).serialized() + "\n"
    try AtomicFile.write(rows, to: directory + "/results.jsonl")
}
