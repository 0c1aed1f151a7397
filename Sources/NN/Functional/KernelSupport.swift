import Tensor

// Small helpers shared by the fused kernels of this folder: unaligned 16-lane loads and stores
// (tensor rows are 64-byte aligned only at their start) and a row-parallel loop.

@inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

@inline(__always) func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self)
}

/// Splits `rows` rows of `width` elements over the kernel threads once there is enough work
/// (about 16K elements per thread) to pay for the dispatch.
@inline(__always) func forEachRowChunk(_ rows: Int, width: Int, perThread: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    Parallel.forEachChunk(rows, minPerThread: Swift.max(1, perThread / Swift.max(width, 1)), body)
}

