import ArgumentParser
import OLCore
import OLTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level model; prints the run directory.",
        discussion: "Outputs: config.json, metrics.jsonl, checkpoint.safetensors (periodic), model.safetensors and summary.json.\n\n"
            + "Config keys (olab config keys describes each):\n" + TrainOptions.keysHelp
    )

    @OptionGroup var options: TrainOptions
    @Option(help: "Run directory (default: runs/<config digest>).") var out: String?
    @Option(help: "Continue the run in DIR from its last checkpoint (its own config; other config flags are not allowed).") var resume: String?
    @Option(help: "Stop after K steps with a checkpoint; the schedule is unchanged.") var stopAfter: Int?
    @Flag(help: "With --resume: continue even if the corpus changed since the run started (recorded in corpus.json).") var allowCorpusChange = false

    func run() throws {
        if let stopAfter, stopAfter <= 0 { throw OutlierLabError("--stop-after must be positive, got \(stopAfter)") }
        let trainer: Trainer
        if let resume {
            guard try options.resolve() == TrainingConfig(), out == nil else {
                throw OutlierLabError("--resume continues the run with its own config; pass only --resume DIR (and --stop-after K)")
            }
            trainer = try Trainer(resuming: resume, allowCorpusChange: allowCorpusChange)
        } else {
            guard !allowCorpusChange else { throw OutlierLabError("--allow-corpus-change applies only to --resume") }
            let config = try options.resolve()
            let directory = out ?? "runs/" + String(SHA256.hex(Array(config.json.serialized().utf8)).prefix(12))
            trainer = try Trainer(config: config, directory: directory)
        }
        for note in trainer.notes { writeStandardError("note: \(boundedLine(note))\n") }
        Interruption.install()
        let live = standardErrorIsTerminal
        let every = trainer.config.logEvery
        try trainer.run(stopAfter: stopAfter) { progress in
            // In Double: steps near Int.max times batch and seq would overflow Int.
            let remainingTokens = Double(min(stopAfter ?? progress.steps, progress.steps) - progress.step)
                * Double(trainer.config.batch) * Double(trainer.config.model.seq)
            let eta = progress.tokensPerSecond > 0 ? remainingTokens / progress.tokensPerSecond : .nan
            let line = "step \(progress.step)/\(progress.steps)  loss \(String(progress.loss.rounded(toPlaces: 4)))  "
                + "\(Int(progress.tokensPerSecond)) tok/s  ETA \(NumberText.duration(eta))"
            if live {
                writeStandardError("\r\u{1B}[K" + line)
            } else if progress.step % every == 0 || progress.step == progress.steps {
                writeStandardError(line + "\n")
            }
        }
        if live { writeStandardError("\n") }
        if trainer.step < trainer.config.steps {
            let reason = Interruption.requested.map { "interrupted by signal \($0)" } ?? "stopped"
            writeStandardError("\(reason) at step \(trainer.step), checkpoint written; continue with: olab train --resume \(trainer.directory)\n")
        }
        try printResult(trainer.directory)
        if let signal = Interruption.requested { throw ExitCode(Interruption.exitStatus(for: signal)) }
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
