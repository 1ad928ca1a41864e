import OLCore
import OLOptimizers

/// The config keys as `olab train` flags and as the documented table, both generated from
/// `TrainingConfig.keys`.
extension TrainingConfig {
    /// The config members the flags set, in the order given: `--name VALUE` or `--name=VALUE`, and
    /// `--name` / `--no-name` for a toggle. An unknown flag, a missing value or one of the wrong type
    /// is a one-line error naming the flag.
    public static func flagMembers(_ arguments: [String]) throws -> [JSONMember] {
        var members: [JSONMember] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let flag = parts[0], attached = parts.count == 2 ? parts[1] : nil
            if let key = keys.first(where: { $0.flag == .toggle && [$0.flagName, "--no-" + $0.flagName.dropFirst(2)].contains(flag) }) {
                guard attached == nil else { throw OutlierLabError("\(flag) takes no value") }
                members.append(JSONMember(key.name, .bool(flag == key.flagName)))
                continue
            }
            guard flag.hasPrefix("--"), let key = keys.first(where: { $0.flag == .value && $0.flagName == flag }) else {
                throw OutlierLabError("unknown option '\(argument)' (the config keys' flags are listed by olab train --help)")
            }
            let text: String
            if let attached {
                text = attached
            } else {
                guard index < arguments.count else { throw OutlierLabError("\(flag) needs a value (\(key.type))") }
                text = arguments[index]
                index += 1
            }
            guard let value = key.flagValue(text) else { throw OutlierLabError("\(flag) takes \(key.type), got '\(text)'") }
            members.append(JSONMember(key.name, value))
        }
        return members
    }

    /// A key's flag as help and the table show it: `--width <integer>`, `--bos, --no-bos`, or "" for a
    /// key set only in a config file.
    public static func flagUsage(_ key: ConfigKey) -> String {
        switch key.flag {
        case .value: "\(key.flagName) <\(key.type.replacingOccurrences(of: " or null", with: ""))>"
        case .toggle: "\(key.flagName), --no-\(key.flagName.dropFirst(2))"
        case .none: ""
        }
    }

    /// A key's default as the table shows it: the value of `TrainingConfig()`, or for a key left to the
    /// optimiser, each optimiser's own default.
    public static func documentedDefault(_ key: ConfigKey) -> String {
        let value = key.write(defaults)
        switch value {
        case .null:
            let own = OptimizerKind.allCases.compactMap { kind in
                OptimizerConfig.defaults(for: kind).hyperParameters.first { $0.name == key.name }.map { (kind, $0.value) }
            }
            guard !own.isEmpty else { return "null" }
            let isFlag = key.type.hasPrefix(Bool.typeName)
            return own.map { "\($0.0.rawValue) \(isFlag ? String($0.1 != 0) : NumberText.general($0.1))" }.joined(separator: ", ")
        case .string(let text): return text
        default: return value.serialized()
        }
    }

    /// Every key as a Markdown table: key, flag, type, default, range and help.
    public static func keysTable(padded: Bool) -> String {
        MarkdownTable(header: ["key", "flag", "type", "default", "range", "help"], rows: keys.map { key in
            [key.name, flagUsage(key), key.type, documentedDefault(key), key.range.text, key.help]
        }, padded: padded).rendered()
    }

    /// The DocC article `OLTraining.docc/ConfigKeys.md`, generated; a test keeps the checked-in file equal.
    public static var keysArticle: String {
        """
        # Config keys

        Every key of a run's `config.json`, the `olab train` flag that sets it, its type, default and range.

        ## Overview

        This article is generated from ``TrainingConfig/keys`` by `olab config keys --markdown`, and a test
        keeps it equal to the table: to add or change a key, edit the table and regenerate this file. A
        flag overrides `--config FILE`, which overrides the defaults. Keys left to the optimiser (null)
        show each optimiser's own default; a key an optimiser does not accept is an error with that
        optimiser. Keys added after runs were first cached are left out of `config.json` while they hold
        their default, so no cached run's key moves.

        \(keysTable(padded: false))
        """
    }
}
