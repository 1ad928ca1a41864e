import OLTestSupport
import Testing
@testable import OLCore

/// Inputs found by `olab fuzz --target safetensors`, and hostile size claims that must be refused before
/// any allocation (the fuzz runs check peak RSS; here the claims are far beyond any machine's memory,
/// so an attempt to honour one would crash the test process).
@Suite("Safetensors reader: fuzz regressions and hostile sizes")
struct SafetensorsFuzzRegressionTests {
    func rejection(_ bytes: [UInt8]) -> String? {
        rejectionMessage { _ = try Safetensors.decode(bytes, source: "f.safetensors") }
    }

    func file(header: String, data: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        appendLittleEndian(UInt64(header.utf8.count), to: &bytes)
        return bytes + Array(header.utf8) + [UInt8](repeating: 0, count: data)
    }

    @Test("a tensor name with a newline gives a one-line error (seed 1, iteration 4306)")
    func newlineInName() {
        let message = rejection(file(header: #"{"a\nb": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}"#, data: 4))
        #expect(message == #"f.safetensors: not a valid safetensors file: entry a\nb must have exactly dtype, shape and data_offsets (has dtype, shape, data_offsets, x)"#)
    }

    @Test("claims of huge tensors and headers are refused by arithmetic, not by allocating", arguments: [
        (#"{"t": {"dtype": "F32", "shape": [1099511627776], "data_offsets": [0, 4398046511104]}}"#, "run past the 0-byte buffer"),
        (#"{"t": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}"#, "has too many elements"),
        (#"{"t": {"dtype": "I64", "shape": [1152921504606846976], "data_offsets": [0, 8]}}"#, "has too many bytes"),
        (#"{"t": {"dtype": "U8", "shape": [8], "data_offsets": [0, 18446744073709551615]}}"#, "integer 18446744073709551615 at byte 56 is out of range"),
    ])
    func hugeClaims(header: String, expected: String) {
        let message = rejection(file(header: header))
        #expect(message?.contains(expected) == true, "\(message ?? "accepted")")
    }

    @Test("a header length prefix of 2^64 − 1 is refused before reading the header")
    func hugeHeaderLength() {
        #expect(rejection([UInt8](repeating: 0xFF, count: 16))?.contains("exceeds the limit of 100000000 bytes") == true)
    }

    @Test("control characters are escaped, other text is kept")
    func escaping() {
        #expect("a\nb\t\u{0}c✓".escapingControlCharacters == #"a\nb\t\0c✓"#)
        #expect("plain ünïcode".escapingControlCharacters == "plain ünïcode")
    }
}
