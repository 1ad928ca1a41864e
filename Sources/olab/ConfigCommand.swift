import ArgumentParser
import OLTraining

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Describe the keys of a training config.",
        subcommands: [ConfigKeysCommand.self]
    )
}

struct ConfigKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List every config key: its flag, type, default, range and help."
    )

    @Flag(help: "Print the documented article (Sources/OLTraining/OLTraining.docc/ConfigKeys.md) instead of the padded table.")
    var markdown = false

    func run() throws {
        try printResult(markdown ? TrainingConfig.keysArticle : TrainingConfig.keysTable(padded: true))
    }
}
