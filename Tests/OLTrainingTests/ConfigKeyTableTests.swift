import Foundation
import Testing
@testable import OLCore
@testable import OLOptimizers
@testable import OLTraining

@Suite("One table of config keys")
struct ConfigKeyTableTests {
    /// Sources/OLTraining/OLTraining.docc/ConfigKeys.md, beside the code it documents.
    static let article = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/OLTraining/OLTraining.docc/ConfigKeys.md").path

    @Test("the checked-in ConfigKeys.md is the table `olab config keys --markdown` generates")
    func documentedTable() throws {
        #expect(try FileBytes.readText(Self.article) == TrainingConfig.keysArticle + "\n",
                "regenerate it: olab config keys --markdown > Sources/OLTraining/OLTraining.docc/ConfigKeys.md")
    }

    @Test("every key has one name, a type and a help line; config.json lists exactly the table's keys")
    func everyKeyOnce() {
        let names = TrainingConfig.keys.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(TrainingConfig.keys.allSatisfy { !$0.type.isEmpty && !$0.help.isEmpty })
        let written = (TrainingConfig().json.objectMembers ?? []).map(\.key)
        #expect(written == names.filter { !TrainingConfig.keysAddedWithPreservingDefault.contains($0) })
    }

    @Test("each optimiser accepts exactly the settings its config lists, and refuses the others naming them",
          arguments: OptimizerKind.allCases)
    func optimiserOwnsItsKeys(kind: OptimizerKind) throws {
        let accepted = OptimizerConfig.defaults(for: kind).acceptedSettings
        for key in TrainingConfig.keys {
            guard let setting = key.setting, setting != .epsConvention else { continue }
            var config = TrainingConfig()
            config.optimizerKind = kind
            let value: JSONValue = key.type.hasPrefix("integer") ? .int(2) : key.type.hasPrefix("true|false") ? .bool(key.name == "nesterov") : .double(0.5)
            try key.read(&config, value, "test")
            if accepted.contains(setting) {
                #expect(throws: Never.self) { _ = try config.optimizerConfig() }
            } else {
                #expect(throws: OutlierLabError("\(key.name) does not apply to optimizer \(kind.rawValue)")) { _ = try config.optimizerConfig() }
            }
        }
    }

    @Test("the learning rate goes from the flag to the schedule, not through the optimiser's config")
    func learningRateToSchedule() throws {
        var config = TrainingConfig()
        #expect(try config.learningRateSchedule().peak == OptimizerConfig.defaults(for: .adamw).learningRate)
        config.lr = 0.02
        #expect(try config.learningRateSchedule().peak == 0.02)
        #expect(try config.optimizerConfig() == OptimizerConfig.defaults(for: .adamw), "lr leaves the optimiser's config alone")
    }

    @Test("flags parse by the table: --key VALUE, --key=VALUE, --toggle and --no-toggle; wrong ones are one line")
    func flags() throws {
        let members = try TrainingConfig.flagMembers(["--width", "32", "--lr=0.5", "--bos", "--no-linear-taps", "--tied-head", "false"])
        #expect(members == [JSONMember("width", .int(32)), JSONMember("lr", .double(0.5)), JSONMember("bos", .bool(true)),
                            JSONMember("linear_taps", .bool(false)), JSONMember("tied_head", .bool(false))])
        #expect(throws: OutlierLabError("--width takes integer, got 'wide'")) { try TrainingConfig.flagMembers(["--width", "wide"]) }
        #expect(throws: OutlierLabError("--seq needs a value (integer)")) { try TrainingConfig.flagMembers(["--seq"]) }
        #expect(throws: OutlierLabError.self) { try TrainingConfig.flagMembers(["--eval-at", "3"]) }
        #expect(throws: OutlierLabError.self) { try TrainingConfig.flagMembers(["--bos=true"]) }
    }
}
