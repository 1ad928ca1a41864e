import Testing
@testable import OLCore

@Suite("Process memory")
struct ProcessMemoryTests {
    @Test("touching 64 MiB more than the current peak raises the peak resident size by at least that much")
    func peakFollowsTouchedMemory() {
        let before = ProcessMemory.peakResidentBytes()
        #expect(before > 1 << 20, "a Swift process is resident for more than 1 MiB")
        // Allocate the old peak plus 64 MiB and write every page, so the new peak cannot be explained by
        // pages resident earlier; 90 % of the 64 MiB margin allows for pages the kernel has not counted yet.
        let count = before + (64 << 20)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
        defer { buffer.deallocate() }
        for offset in stride(from: 0, to: count, by: 4096) { buffer[offset] = 1 }
        let after = ProcessMemory.peakResidentBytes()
        #expect(after >= before + (64 << 20) * 9 / 10, "peak \(before) → \(after) bytes")
    }
}
