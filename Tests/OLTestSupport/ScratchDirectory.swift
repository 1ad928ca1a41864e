import Foundation
import OLCore

/// A fresh scratch directory for one test, `/tmp/olab-test-<pid>/<label>-<random>`.
///
/// Every scratch directory of a test process lives under that process's root, which is removed when the
/// process exits: before, each `make verify` left about 200 directories and 170 MB in /tmp (trained runs,
/// audit caches, sweeps), and a developer's machine had gathered 7 GB of them. Set
/// `OLAB_KEEP_TEST_SCRATCH=1` to keep the root for a post-mortem; a process that crashes keeps it too.
public func scratchDirectory(_ label: String) throws -> String {
    let path = "\(ScratchRoot.path)/\(label)-\(UInt32.random(in: 0...UInt32.max))"
    try FilePath.makeDirectories(path)
    return path
}

/// The test process's scratch root and its removal at exit.
public enum ScratchRoot {
    /// `/tmp/olab-test-<pid>`; the first use registers its removal at exit unless
    /// `OLAB_KEEP_TEST_SCRATCH` is set to anything but "" or "0".
    public static let path: String = {
        let root = "/tmp/olab-test-\(getpid())"
        if !keeps(getenvString("OLAB_KEEP_TEST_SCRATCH")) {
            atexit { ScratchRoot.remove() }
        }
        return root
    }()

    /// Whether a value of `OLAB_KEEP_TEST_SCRATCH` keeps the root.
    static func keeps(_ value: String?) -> Bool {
        guard let value else { return false }
        return !value.isEmpty && value != "0"
    }

    /// Removes the root and everything under it (called at exit; a failure there has nobody to tell).
    static func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
