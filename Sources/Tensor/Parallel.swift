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

extension Parallel {
    /// Calls `body(item, worker)` for every item of `0..<count` on up to `threads` workers; a worker
    /// that finishes an item takes the next one, so items of unequal cost balance themselves.
    /// `worker` (in `0..<threads`) indexes per-worker scratch. The result is reproducible when every
    /// item writes its own outputs (which worker runs it then does not matter).
    ///
    /// OpenBLAS runs single-threaded inside: items that call sgemm on tiles would otherwise each
    /// start OpenBLAS's pool and oversubscribe the cores.
    public static func forEachItem(_ count: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let t = min(threads, count)
        if t <= 1 { for i in 0..<count { body(i, 0) }; return }
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        let queue = ItemQueue(count)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: t) { worker in
                while let item = queue.next() { box.value(item, worker) }
            }
        }
    }
}

/// Hands out `0..<count` in order to competing workers.
private final class ItemQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var nextItem = 0
    private let count: Int

    init(_ count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextItem < count else { return nil }
        nextItem += 1
        return nextItem - 1
    }
}
