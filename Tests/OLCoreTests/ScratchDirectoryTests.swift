import Foundation
import OLCore
import Testing
@testable import OLTestSupport

/// Tests keep their files under one root per test process, removed when the process exits; that the
/// whole suite leaves nothing behind is checked by `Tests/run-suite.sh` after every passing run (a test
/// here cannot remove the root while other tests are still using it).
@Suite("Test scratch directories")
struct ScratchDirectoryTests {
    @Test("every scratch directory is a new, existing folder under this process's root")
    func freshFoldersUnderTheRoot() throws {
        let first = try scratchDirectory("scratch-check")
        let second = try scratchDirectory("scratch-check")
        #expect(first != second)
        #expect(ScratchRoot.path == "/tmp/olab-test-\(getpid())")
        for path in [first, second] {
            #expect(path.hasPrefix(ScratchRoot.path + "/scratch-check-"))
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
    }

    @Test(
        "OLAB_KEEP_TEST_SCRATCH keeps the root for any value but unset, empty and 0",
        arguments: [(nil, false), ("", false), ("0", false), ("1", true), ("yes", true)] as [(String?, Bool)]
    )
    func keepSetting(value: String?, keeps: Bool) {
        #expect(ScratchRoot.keeps(value) == keeps)
    }
}
