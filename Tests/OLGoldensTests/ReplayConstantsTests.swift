import OLCore
import Testing
@testable import OLGoldens

/// The NumPy replay takes every constant of the computation (norm ε, QK-norm ε, GELU's coefficient, the
/// quantisers' floor, momentum and grid, the optimisers' floors) from the golden's header, so a changed
/// default re-records and replays with no edit to `Goldens/replay/`.
@Suite("the NumPy replay's constants")
struct ReplayConstantsTests {
    /// Numbers that are structure, not model constants: indices, axes, powers and halves.
    static let structural: Set<String> = ["0", "1", "2", "3", "0.0", "0.5", "1.0", "2.0"]

    /// Every numeric literal of Python source outside comments and string literals, with its line, except
    /// on lines that say why they hold one (`# literal: …`).
    static func numericLiterals(in source: String) -> [(line: Int, literal: String)] {
        var found: [(Int, String)] = []
        var line = 1, index = source.startIndex
        var annotated = Set<Int>()
        for (number, text) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where text.contains("# literal:") { annotated.insert(number + 1) }
        func peek(_ offset: Int) -> Character? {
            source.index(index, offsetBy: offset, limitedBy: source.endIndex).flatMap { $0 < source.endIndex ? source[$0] : nil }
        }
        var previous: Character = " "
        while index < source.endIndex {
            let character = source[index]
            if character == "#" {  // a comment runs to the end of the line
                while index < source.endIndex, source[index] != "\n" { index = source.index(after: index) }
                continue
            }
            if character == "\"" || character == "'" {  // a string literal, triple-quoted or not
                let triple = peek(1) == character && peek(2) == character
                let delimiter = String(repeating: character, count: triple ? 3 : 1)
                index = source.index(index, offsetBy: delimiter.count)
                while index < source.endIndex, !source[index...].hasPrefix(delimiter) {
                    if source[index] == "\\" { index = source.index(after: index) }
                    if index < source.endIndex, source[index] == "\n" { line += 1 }
                    if index < source.endIndex { index = source.index(after: index) }
                }
                index = source.index(index, offsetBy: delimiter.count, limitedBy: source.endIndex) ?? source.endIndex
                previous = character
                continue
            }
            if character.isNumber, !(previous.isLetter || previous.isNumber || previous == "_" || previous == ".") {
                var literal = ""
                while index < source.endIndex, source[index].isNumber || source[index] == "." || source[index] == "e"
                    || ((source[index] == "-" || source[index] == "+") && literal.last == "e") {
                    literal.append(source[index])
                    index = source.index(after: index)
                }
                if !structural.contains(literal) && !annotated.contains(line) { found.append((line, literal)) }
                previous = literal.last ?? previous
                continue
            }
            if character == "\n" { line += 1 }
            previous = character
            index = source.index(after: index)
        }
        return found
    }

    @Test("the scanner finds constants in code and ignores comments, strings and structural numbers")
    func scannerFindsConstants() {
        let source = """
        def f(x, eps=1e-5):  # 0.044715 in a comment
            \"\"\"A docstring with 0.9 and 100.\"\"\"
            y = x[2] ** 2 + 0.5 * x - 'a 42 string'
            z = x * 0.9 + 1e4  # literal: display only
            return y + 100 + h0 + x.f32
        """
        let found = Self.numericLiterals(in: source)
        #expect(found.map(\.literal) == ["1e-5", "100"], "\(found)")
        #expect(found.map(\.line) == [1, 5])
    }

    @Test("the replay holds no numeric constant of its own: every one comes from the golden header")
    func replayHasNoConstants() throws {
        let store = try GoldenStore.locatingPackage(from: #filePath)
        let files = try DirectoryListing.files(under: store.goldensDirectory + "/replay").filter { $0.hasSuffix(".py") }
        #expect(files.count >= 6, "expected the replay's modules under Goldens/replay, found \(files)")
        for file in files {
            let found = Self.numericLiterals(in: try FileBytes.readText(store.goldensDirectory + "/replay/" + file))
            #expect(found.isEmpty, "Goldens/replay/\(file) holds constants of its own (read them from the golden header instead): \(found.map { "line \($0.line): \($0.literal)" }.joined(separator: ", "))")
        }
    }
}
