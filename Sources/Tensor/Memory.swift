import Foundation

/// What a block of tensor memory is used for. Every `TensorStorage` belongs to exactly one.
public enum MemoryCategory: Int, CaseIterable, Sendable, CustomStringConvertible {
    case parameter, gradient, optimizer, activation, workspace

    public var description: String {
        switch self {
        case .parameter: return "parameter"
        case .gradient: return "gradient"
        case .optimizer: return "optimizer"
        case .activation: return "activation"
        case .workspace: return "workspace"
        }
    }
}

/// Live and peak bytes, in total and per category, as counted by the tensor allocator.
/// Counts are of requested bytes (`count * 4`), so they are exact for known allocations.
public struct MemoryStats: Sendable, Equatable {
    public var live: [Int]
    public var peak: [Int]
    public var liveTotal: Int
    public var peakTotal: Int
    /// Live bytes per category at the moment the total peaked (they sum to `peakTotal`; the
    /// per-category peaks in `peak` happen at different moments and sum to more).
    public var atPeak: [Int]
    /// Bytes kept by the allocator's buffer cache (free blocks ready for reuse); part of RSS, not of `live`.
    public var cached: Int

    public func live(_ c: MemoryCategory) -> Int { live[c.rawValue] }
    public func peak(_ c: MemoryCategory) -> Int { peak[c.rawValue] }

    /// `{"parameter": bytes, ...}` of the peak per category plus `total`.
    public var peakByCategory: [String: Int] {
        var d: [String: Int] = ["total": peakTotal]
        for c in MemoryCategory.allCases { d[c.description] = peak[c.rawValue] }
        return d
    }

    /// `{"parameter": bytes, ...}` live at the total's peak, plus `total` (= `peakTotal`).
    public var compositionAtPeak: [String: Int] {
        var d: [String: Int] = ["total": peakTotal]
        for c in MemoryCategory.allCases { d[c.description] = atPeak[c.rawValue] }
        return d
    }
}

/// The tensor allocator: a size-keyed cache of 64-byte aligned blocks plus exact accounting.
///
/// Freed blocks are kept for reuse (a training step allocates the same sizes every step, so after
/// the first step there are no page faults); `releaseCache()` returns them to the system.
/// Categories come from the innermost `withCategory` scope (default `.activation`).
public enum Memory {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var liveBytes = [Int](repeating: 0, count: MemoryCategory.allCases.count)
    nonisolated(unsafe) private static var peakBytes = [Int](repeating: 0, count: MemoryCategory.allCases.count)
    nonisolated(unsafe) private static var liveTotal = 0
    nonisolated(unsafe) private static var peakTotal = 0
    nonisolated(unsafe) private static var atPeak = [Int](repeating: 0, count: MemoryCategory.allCases.count)
    /// Free blocks by size, each stamped with the generation in which it was freed.
    nonisolated(unsafe) private static var freeBlocks: [Int: [(block: UnsafeMutableRawPointer, generation: Int)]] = [:]
    nonisolated(unsafe) private static var generation = 0
    nonisolated(unsafe) private static var cachedBytes = 0
    nonisolated(unsafe) private static var categoryStack: [MemoryCategory] = []

    /// Upper bound on cached free blocks; beyond it freed blocks go back to the system.
    nonisolated(unsafe) public static var cacheLimit = 2 << 30

    /// The category new tensors are counted under.
    public static var currentCategory: MemoryCategory {
        lock.lock(); defer { lock.unlock() }
        return categoryStack.last ?? .activation
    }

    /// Runs `body` with tensors allocated inside it counted under `category`.
    @discardableResult
    public static func withCategory<T>(_ category: MemoryCategory, _ body: () throws -> T) rethrows -> T {
        lock.lock(); categoryStack.append(category); lock.unlock()
        defer { lock.lock(); categoryStack.removeLast(); lock.unlock() }
        return try body()
    }

    public static var stats: MemoryStats {
        lock.lock(); defer { lock.unlock() }
        return MemoryStats(live: liveBytes, peak: peakBytes, liveTotal: liveTotal, peakTotal: peakTotal, atPeak: atPeak, cached: cachedBytes)
    }

    /// Sets every peak to the current live value.
    public static func resetPeak() {
        lock.lock(); defer { lock.unlock() }
        peakBytes = liveBytes
        peakTotal = liveTotal
        atPeak = liveBytes
    }

    /// Runs `body` and returns the peaks reached inside it (absolute bytes, including what was live
    /// before). Nesting is safe: the enclosing scope's peaks still see the inner peaks.
    public static func measure<T>(_ body: () throws -> T) rethrows -> (result: T, stats: MemoryStats) {
        lock.lock()
        let outerPeak = peakBytes, outerTotal = peakTotal, outerAtPeak = atPeak
        peakBytes = liveBytes; peakTotal = liveTotal; atPeak = liveBytes
        lock.unlock()
        let result = try body()
        lock.lock()
        let inner = MemoryStats(live: liveBytes, peak: peakBytes, liveTotal: liveTotal, peakTotal: peakTotal, atPeak: atPeak, cached: cachedBytes)
        for i in peakBytes.indices { peakBytes[i] = max(peakBytes[i], outerPeak[i]) }
        if outerTotal > peakTotal { peakTotal = outerTotal; atPeak = outerAtPeak }
        lock.unlock()
        return (result, inner)
    }

    /// Frees every cached block.
    public static func releaseCache() {
        lock.lock(); defer { lock.unlock() }
        for (_, blocks) in freeBlocks { for b in blocks { free(b.block) } }
        freeBlocks.removeAll()
        cachedBytes = 0
    }

    /// Marks a step boundary: cached blocks freed before the previous boundary and not reused
    /// since go back to the system. A training step reuses last step's blocks, so this keeps the
    /// cache at one step's working set even when tensor sizes vary (MoE expert batches).
    public static func endStep() {
        lock.lock(); defer { lock.unlock() }
        for (size, blocks) in freeBlocks {
            let keep = blocks.filter { $0.generation >= generation }
            for b in blocks where b.generation < generation { free(b.block) }
            cachedBytes -= (blocks.count - keep.count) * size
            freeBlocks[size] = keep.isEmpty ? nil : keep
        }
        generation += 1
    }

    /// The cached block size serving a request. Above 64 KiB there are 8 size classes per power
    /// of two (at most 12.5% rounding), so tensors whose sizes change a little from step to step
    /// (MoE expert batches) reuse the same blocks instead of filling the cache with near-copies.
    @inline(__always) static func blockSize(_ bytes: Int) -> Int {
        let b = max(bytes, 64)
        if b <= 1 << 16 { return (b + 63) & ~63 }
        let unit = 1 << (Int.bitWidth - 1 - b.leadingZeroBitCount - 3)
        return (b + unit - 1) & ~(unit - 1)
    }

    static func allocate(bytes: Int, category: MemoryCategory) -> UnsafeMutableRawPointer {
        // No machine has 2⁵⁶ bytes (64 PiB); refusing here also keeps `blockSize` from overflowing.
        guard bytes <= 1 << 56 else {
            allocationFailureHandler(AllocationFailure(bytes: bytes, category: category, liveBytes: stats.liveTotal))
        }
        let size = blockSize(bytes)
        lock.lock()
        account(bytes, category)
        if var list = freeBlocks[size], let p = list.popLast() {
            freeBlocks[size] = list
            cachedBytes -= size
            lock.unlock()
            return p.block
        }
        lock.unlock()
        var p: UnsafeMutableRawPointer?
        if posix_memalign(&p, 64, size) != 0 || p == nil {
            // The cache may hold what the system lacks: give it back and try once more.
            releaseCache()
            if posix_memalign(&p, 64, size) != 0 || p == nil {
                allocationFailureHandler(AllocationFailure(bytes: size, category: category, liveBytes: stats.liveTotal))
            }
        }
        return p!
    }

    /// Called when the system refuses an allocation even after the cache was released.
    ///
    /// Kernels do not throw, so a failed allocation cannot unwind to the caller. User-facing programs
    /// refuse runs that do not fit before allocating them (the memory pre-flight), and install a
    /// handler that prints `AllocationFailure.description` as one line and exits non-zero for what
    /// the estimate cannot foresee; the default handler stops with the same message.
    nonisolated(unsafe) public static var allocationFailureHandler: (AllocationFailure) -> Never = { failure in
        fatalError(failure.description)
    }

    static func release(_ p: UnsafeMutableRawPointer, bytes: Int, category: MemoryCategory) {
        let size = blockSize(bytes)
        lock.lock()
        account(-bytes, category)
        if cachedBytes + size <= cacheLimit {
            freeBlocks[size, default: []].append((p, generation))
            cachedBytes += size
            lock.unlock()
        } else {
            lock.unlock()
            free(p)
        }
    }

    static func move(bytes: Int, from: MemoryCategory, to: MemoryCategory) {
        lock.lock(); defer { lock.unlock() }
        account(-bytes, from)
        account(bytes, to)
    }

    /// Caller holds the lock.
    private static func account(_ delta: Int, _ c: MemoryCategory) {
        liveBytes[c.rawValue] += delta
        liveTotal += delta
        if liveBytes[c.rawValue] > peakBytes[c.rawValue] { peakBytes[c.rawValue] = liveBytes[c.rawValue] }
        if liveTotal > peakTotal {
            peakTotal = liveTotal
            // Element-wise, so neither array is copied on the allocation path.
            for i in atPeak.indices { atPeak[i] = liveBytes[i] }
        }
    }
}

/// An allocation the system refused (see `Memory.allocationFailureHandler`).
public struct AllocationFailure: Error, CustomStringConvertible, Sendable {
    public let bytes: Int
    public let category: MemoryCategory
    /// Bytes live in tensors when it failed.
    public let liveBytes: Int
    public var description: String {
        "out of memory: cannot allocate \(bytes) bytes for a \(category) tensor (\(liveBytes) bytes already in use)"
    }
}

/// Peak resident set size of this process in bytes (`VmHWM`), since the start or the last
/// successful `resetProcessPeakRSS()`.
public func processPeakRSS() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

/// Starts a new peak for `processPeakRSS()`, so several runs in one process (`llama-pretrain
/// compare`) each report their own: returns the allocator's cached blocks to the system, then
/// resets the kernel's high-water mark to the current RSS (Linux, `/proc/self/clear_refs`).
/// Returns false where the kernel offers no reset; the peak then stays the process's.
@discardableResult
public func resetProcessPeakRSS() -> Bool {
    Memory.releaseCache()
    guard let file = fopen("/proc/self/clear_refs", "w") else { return false }
    let written = fputs("5", file) >= 0
    return fclose(file) == 0 && written
}
