import Foundation
import OLCore

/// A fresh scratch directory under /tmp for one test.
public func scratchDirectory(_ label: String) throws -> String {
    let path = "/tmp/olab-test-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))"
    try FilePath.makeDirectories(path)
    return path
}
