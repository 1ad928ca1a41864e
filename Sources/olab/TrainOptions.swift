import ArgumentParser
import OLCore
import OLTraining

/// `--config FILE` and a flag for every `TrainingConfig` key (`TrainingConfig.keys`, listed in
/// `olab train --help`). A flag given on the command line overrides `--config FILE`, which overrides
/// the defaults.
struct TrainOptions: ParsableArguments {
    @Option(help: "JSON config file; flags override its values.") var config: String?
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Config keys as flags, e.g. --width 64 --block op --bos (every key below).", valueName: "--key value"))
    var keyFlags: [String] = []

    /// The config these flags describe, validated.
    func resolve() throws -> TrainingConfig {
        var json: [JSONMember] = []
        if let path = config {
            let parsed = try JSONValue.parse(bytes: try FileBytes.read(path), source: path)
            guard let members = parsed.objectMembers else { throw OutlierLabError("\(path): a config must be a JSON object") }
            json = members
        }
        for member in try TrainingConfig.flagMembers(keyFlags) {
            json.removeAll { $0.key == member.key }
            json.append(member)
        }
        return try TrainingConfig(json: .object(json), source: config ?? "command line")
    }

    /// One line per config key for `olab train --help`: its flag, help and default.
    static var keysHelp: String {
        let flagged = TrainingConfig.keys.filter { $0.flag != .none }
        let width = flagged.map { TrainingConfig.flagUsage($0).count }.max() ?? 0
        return flagged.map { key in
            let usage = TrainingConfig.flagUsage(key)
            return "  " + usage + String(repeating: " ", count: width - usage.count) + "  " + key.help
                + " (default: \(TrainingConfig.documentedDefault(key)))"
        }.joined(separator: "\n")
    }
}
