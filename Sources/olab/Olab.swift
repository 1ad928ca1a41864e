import ArgumentParser
import OLCore

@main
struct Olab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olab",
        abstract: "OutlierLab: train, measure, quantise and audit outlier features in small transformers.",
        version: Harness.version,
        subcommands: [TrainCommand.self]
    )
}
