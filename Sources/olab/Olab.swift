import ArgumentParser
import OLCore
import OLTraining
import OLPlatform

@main
struct Olab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olab",
        abstract: "OutlierLab: train, measure, quantise and audit outlier features in small transformers.",
        version: Harness.version,
        subcommands: [TrainCommand.self, EvalCommand.self, QuantizeCommand.self, ReportCommand.self, MetricsCommand.self, BenchCommand.self, AuditCommand.self, SweepCommand.self, ConfigCommand.self, GoldenCommand.self, FuzzCommand.self, RunTaskCommand.self]
    )

    /// `OLAB_THREADS` is read by the library where a bad value silently falls back to the core count;
    /// the command line refuses it instead, once, before any work (empty counts as unset).
    static func validateEnvironment() throws {
        guard let text = getenvString("OLAB_THREADS"), !text.isEmpty else { return }
        _ = try SizeLimits.count(text: text, "OLAB_THREADS", atMost: SizeLimits.maximumThreads)
    }

    /// Parses and runs a subcommand. Our own errors (bad config, missing file, corrupt checkpoint, ...)
    /// become one line `error: …` on stderr and exit status 2, never a stack trace.
    /// Flag errors (unknown flag, wrong type) keep ArgumentParser's exit status but are cut to their
    /// first line plus a pointer to --help, like every other bad input.
    static func main() {
        Interruption.unblockStopSignals()
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let status = exitCode(for: error)
            guard status != .success else { exit(withError: error) }  // --help, --version
            let firstLine = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            let message = firstLine.hasPrefix("Error: ") ? String(firstLine.dropFirst(7)) : firstLine
            printError(message + " (see olab --help)")
            OLPlatform.exit(status.rawValue)
        }
        do {
            try validateEnvironment()
            try command.run()
        } catch let error as OutlierLabError {
            printError(error.message)
            OLPlatform.exit(2)
        } catch {
            exit(withError: error)
        }
    }
}
