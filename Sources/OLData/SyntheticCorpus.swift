import OLCore

/// A seeded generator of learnable Python-like text: the default corpus of tests and goldens (<doc:Data>).
///
/// Grammar (every choice drawn from `RandomStream(seed:purpose: "synthetic")`; items separated by a blank line):
///
///     item      := comment | function | class                      (weights 1 : 6 : 3)
///     function  := "def " verb "_" noun "(" params "):" block        params: 0–3 nouns
///     class     := "class " Name ":" (method)+                       1–3 methods, first param "self"
///     block     := statement{1..4} "return " expr                    indented 4 more than its header
///     statement := var " = " expr | var " += " number | comment
///                | "if " var cmp number ":" block' | "for i in range(" number "):" block'
///                | call                                              (block' has no return; depth ≤ 2)
///     expr      := var | number | var op number | var op var | "len(" var ")" | call
///     call      := verb "_" noun "(" var ")"
///
/// Identifiers come from fixed vocabularies, `var` is a name already in scope (parameters, assigned locals,
/// `i` inside a loop, `self.noun` in methods) so a model can learn to copy; numbers are 0–99. Generation
/// stops at exactly `byteCount` bytes (the last item may be cut). Same seed and size ⇒ same bytes.
public enum SyntheticCorpus {
    /// The default size: a few MB, enough for the small models the audit trains.
    public static let defaultByteCount = 4 << 20

    /// `byteCount` bytes of synthetic code for `seed`.
    public static func generate(seed: UInt64, byteCount: Int = defaultByteCount) -> [UInt8] {
        var writer = Writer(random: RandomStream(seed: seed, purpose: "synthetic"), capacity: byteCount)
        while writer.bytes.count < byteCount {
            writer.item()
            writer.line("", indent: 0)
        }
        return Array(writer.bytes.prefix(byteCount))
    }

    /// The synthetic corpus as a split `ByteCorpus`, with a source that records the seed and size.
    public static func corpus(seed: UInt64, byteCount: Int = defaultByteCount, trainFraction: Double = 0.95) throws -> ByteCorpus {
        try ByteCorpus(bytes: generate(seed: seed, byteCount: byteCount),
                       source: "synthetic(seed: \(seed), bytes: \(byteCount))", trainFraction: trainFraction)
    }

    static let verbs = ["get", "set", "load", "save", "parse", "build", "update", "compute", "check", "read",
                        "write", "make", "find", "add", "apply", "reset"]
    static let nouns = ["value", "count", "index", "total", "item", "name", "data", "size", "node", "path", "key",
                        "result", "state", "weight", "step", "line", "buffer", "token", "score", "limit"]
    static let classNames = ["Parser", "Buffer", "Model", "Reader", "Writer", "Counter", "Graph", "Cache", "Tensor", "Stream"]
    static let commentWords = ["compute", "the", "next", "value", "from", "input", "check", "if", "done", "update",
                               "state", "return", "result", "for", "each", "item", "skip", "empty", "keep", "last"]
    static let operators = [" + ", " - ", " * ", " // "]
    static let comparisons = [" < ", " > ", " == ", " != "]

    /// Emits the grammar above into a byte buffer.
    private struct Writer {
        var random: RandomStream
        var bytes: [UInt8] = []
        /// Names readable in the current function.
        var scope: [String] = []

        init(random: RandomStream, capacity: Int) {
            self.random = random
            bytes.reserveCapacity(capacity + 256)
        }

        mutating func pick(_ choices: [String]) -> String { choices[random.nextInt(below: choices.count)] }
        mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { random.nextInt(below: denominator) < numerator }
        mutating func number() -> String { String(random.nextInt(below: 100)) }
        mutating func variable() -> String { scope.isEmpty ? number() : pick(scope) }
        mutating func call() -> String { "\(pick(SyntheticCorpus.verbs))_\(pick(SyntheticCorpus.nouns))(\(variable()))" }

        mutating func line(_ text: String, indent: Int) {
            bytes += repeatElement(UInt8(ascii: " "), count: indent)
            bytes += text.utf8
            bytes.append(0x0A)
        }

        mutating func comment() -> String {
            "# " + (0..<(2 + random.nextInt(below: 4))).map { _ in pick(SyntheticCorpus.commentWords) }.joined(separator: " ")
        }

        mutating func item() {
            switch random.nextInt(below: 10) {
            case 0: line(comment(), indent: 0)
            case 1...6: function(indent: 0, isMethod: false)
            default:
                line("class \(pick(SyntheticCorpus.classNames)):", indent: 0)
                for index in 0..<(1 + random.nextInt(below: 3)) {
                    if index > 0 { line("", indent: 0) }
                    function(indent: 4, isMethod: true)
                }
            }
        }

        mutating func function(indent: Int, isMethod: Bool) {
            let parameters = (0..<random.nextInt(below: 4)).map { _ in pick(SyntheticCorpus.nouns) }
            let unique = parameters.enumerated().filter { !parameters[..<$0.offset].contains($0.element) }.map(\.element)
            let declared = (isMethod ? ["self"] : []) + unique
            line("def \(pick(SyntheticCorpus.verbs))_\(pick(SyntheticCorpus.nouns))(\(declared.joined(separator: ", "))):", indent: indent)
            scope = unique + (isMethod ? ["self.\(pick(SyntheticCorpus.nouns))"] : [])
            block(indent: indent + 4, depth: 1, returns: true)
        }

        mutating func block(indent: Int, depth: Int, returns: Bool) {
            for _ in 0..<(1 + random.nextInt(below: returns ? 4 : 2)) { statement(indent: indent, depth: depth) }
            if returns { line("return \(expression())", indent: indent) }
        }

        mutating func statement(indent: Int, depth: Int) {
            let kind = random.nextInt(below: depth < 2 ? 10 : 6)
            switch kind {
            case 0...2:
                let target = scope.isEmpty || chance(1, in: 2) ? pick(SyntheticCorpus.nouns) : pick(scope)
                line("\(target) = \(expression())", indent: indent)
                if !scope.contains(target) { scope.append(target) }
            case 3: scope.isEmpty ? line(comment(), indent: indent) : line("\(pick(scope)) += \(number())", indent: indent)
            case 4: line(comment(), indent: indent)
            case 5: line(call(), indent: indent)
            case 6...7:
                line("if \(variable())\(pick(SyntheticCorpus.comparisons))\(number()):", indent: indent)
                block(indent: indent + 4, depth: depth + 1, returns: false)
            default:
                line("for i in range(\(number())):", indent: indent)
                let outer = scope
                if !scope.contains("i") { scope.append("i") }
                block(indent: indent + 4, depth: depth + 1, returns: false)
                scope = outer
            }
        }

        mutating func expression() -> String {
            switch random.nextInt(below: 6) {
            case 0: variable()
            case 1: number()
            case 2: "\(variable())\(pick(SyntheticCorpus.operators))\(number())"
            case 3: "\(variable())\(pick(SyntheticCorpus.operators))\(variable())"
            case 4: "len(\(variable()))"
            default: call()
            }
        }
    }
}
