import Foundation
import OLCore

/// A fresh directory under the system temporary directory for one test.
public func temporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("olab-test-\(name)-\(UUID().uuidString)").path
    try FilePath.makeDirectories(path)
    return path
}
