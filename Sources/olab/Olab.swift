import ArgumentParser
import OLCore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Olab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olab",
        abstract: "OutlierLab: train, measure, quantise and audit outlier features in small transformers.",
        version: Harness.version,
        subcommands: [TrainCommand.self, EvalCommand.self, MetricsCommand.self, BenchCommand.self, AuditCommand.self, GoldenCommand.self]
    )

    /// Parses and runs a subcommand. Our own errors (bad config, missing file, corrupt checkpoint, ...)
    /// become one line `error: …` on stderr and exit status 2, never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as OutlierLabError {
            printError(error.message)
            Glibc.exit(2)
        } catch {
            exit(withError: error)
        }
    }
}
