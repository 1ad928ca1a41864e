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

    /// A flag error (unknown flag, missing value, wrong type) is a usage error, exit status 64, like
    /// every flag ArgumentParser refuses itself.
    func validate() throws {
        do { _ = try TrainingConfig.flagMembers(keyFlags) } catch let error as OutlierLabError { throw ValidationError(error.message) }
    }

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

    /// Each config key's flag for `olab train --help`, with its help and default on the next line.
    static var keysHelp: String {
        TrainingConfig.keys.filter { $0.flag != .none }.map { key in
            "  \(TrainingConfig.flagUsage(key))\n      \(key.help) Default: \(TrainingConfig.documentedDefault(key))."
        }.joined(separator: "\n")
    }
}
