import OLCore

/// metrics.jsonl without its wall-clock field (tokens_per_s), for byte comparisons between runs.
public func metricsWithoutWallClock(_ directory: String) throws -> [String] {
    try FileBytes.readText(directory + "/metrics.jsonl").split(separator: "\n").map { line in
        let record = try JSONValue.parse(String(line))
        return JSONValue.object(record.objectMembers!.filter { $0.key != "tokens_per_s" }).serialized()
    }
}
