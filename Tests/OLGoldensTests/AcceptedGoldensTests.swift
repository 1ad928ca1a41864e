import OLCore
import Testing
@testable import OLGoldens

/// The accepted tree itself: `Goldens/` of this package against `Goldens/MANIFEST.json`. Each golden
/// test checks only its own file when it runs; this one makes `make verify` fail, naming the file, for a
/// flipped byte, a deleted or an unlisted golden, or a tolerance edited by hand (the header is part of
/// the digested content), whichever tests a filter selects.
@Suite("accepted goldens")
struct AcceptedGoldensTests {
    @Test("every golden in Goldens/ is listed in MANIFEST.json, present, intact and parses")
    func acceptedTreeVerifies() throws {
        let store = try GoldenStore.locatingPackage(from: #filePath)
        let (verified, problems) = try store.verifyTree()
        // Each message names the file and says what is wrong with it.
        for problem in problems { Issue.record("\(problem.message)") }
        // Every suite must be there: an emptied folder would otherwise verify vacuously.
        for suite in ["kernels", "optimizers", "metrics", "training"] {
            #expect(verified.contains { $0.hasPrefix(suite + "/") }, "no accepted goldens under Goldens/\(suite)/")
        }
    }
}
