import COpenBLAS
import Dispatch
import Foundation

/// Threading for kernels and BLAS. Splits are fixed by `threads`, so results are reproducible
/// for a given thread count.
public enum Parallel {
    nonisolated(unsafe) public private(set) static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Sets the kernel threads and OpenBLAS's pool size.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(Int32(threads))
    }

    /// Calls `body` on `threads` contiguous chunks of `0..<count` (one chunk when `count < minPerThread * 2`).
    @inline(__always)
    public static func forEachChunk(_ count: Int, minPerThread: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let t = min(threads, count / max(minPerThread, 1))
        if t <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: t) { i in
                let lo = count * i / t, hi = count * (i + 1) / t
                box.value(lo..<hi)
            }
        }
    }
}

/// Lets a non-Sendable value cross into `concurrentPerform`; callers guarantee disjoint access.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
