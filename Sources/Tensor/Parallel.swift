import COpenBLAS
import Dispatch
import Foundation

/// Threading for kernels and BLAS. Splits are fixed by `threads`, so results are reproducible
/// for a given thread count. OpenBLAS itself runs single-threaded: `Tensor.sgemm` splits its
/// calls over the kernel threads (see there why).
public enum Parallel {
    nonisolated(unsafe) public private(set) static var threads: Int = {
        openblas_set_num_threads(1)
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Whether `forEachItem`'s workers are running (their sgemm calls are not split again).
    nonisolated(unsafe) private static var insideItems = false

    /// Sets the kernel threads (sgemm splits follow them; OpenBLAS stays single-threaded).
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(1)
    }

    /// How many blocks an sgemm of `work` = m·n·k multiply-adds, split along a dimension of
    /// `length`, runs in: one below ~2²¹ multiply-adds (dispatch costs more than it saves) or when
    /// called from `forEachItem`'s workers, else up to `threads`, each at least 32 long.
    @inline(__always) static func gemmParts(length: Int, work: Int) -> Int {
        if threads <= 1 || insideItems || work < 1 << 21 { return 1 }
        return Swift.max(1, Swift.min(threads, length / 32))
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
    /// The workers' sgemm calls run unsplit: items that call sgemm on tiles would otherwise
    /// oversubscribe the cores. A `forEachItem` called from a worker runs its items in order on
    /// that worker (worker index 0), so the flag is set and cleared by the outermost call only.
    public static func forEachItem(_ count: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let t = min(threads, count)
        if t <= 1 || insideItems { for i in 0..<count { body(i, 0) }; return }
        insideItems = true
        defer { insideItems = false }
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
