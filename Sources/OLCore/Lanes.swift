/// Sixteen-lane element-wise loops. A lane computes exactly what the scalar loop computes for its
/// element (the same IEEE operations in the same order; Swift never fuses or reorders them), so a kernel
/// written with these gives the scalar loop's bits, several elements per instruction.

/// Sixteen floats from `p` (any alignment).
@inline(__always) public func loadVector(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) public func loadVector(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> { loadVector(UnsafePointer(p)) }

/// Stores sixteen floats at `p` (any alignment).
@inline(__always) public func storeVector(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// `body(i)` for i = 0, 16, 32, … while 16 elements remain, then `tail(i)` for each element left.
@inline(__always) public func forEachLane(_ count: Int, _ body: (Int) -> Void, tail: (Int) -> Void) {
    forEachLane(0 ..< count, body, tail: tail)
}

/// `body(i)` for i = lowerBound, lowerBound + 16, … while 16 elements of `range` remain, then `tail(i)`
/// for each element left.
@inline(__always) public func forEachLane(_ range: Range<Int>, _ body: (Int) -> Void, tail: (Int) -> Void) {
    let vectorEnd = range.lowerBound + (range.count & ~15)
    for i in stride(from: range.lowerBound, to: vectorEnd, by: 16) { body(i) }
    for i in vectorEnd ..< range.upperBound { tail(i) }
}
