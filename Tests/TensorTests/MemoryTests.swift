import Tensor
import XCTest

/// The allocator's accounting is exact (requested bytes, per category) for known allocations.
/// Deltas against a baseline taken inside each test keep the tests independent of each other.
final class MemoryTests: XCTestCase {
    func delta(_ before: MemoryStats, _ c: MemoryCategory) -> Int { Memory.stats.live(c) - before.live(c) }

    func testEachCategoryCountsRequestedBytes() {
        let before = Memory.stats
        var keep: [Tensor] = []
        for (i, c) in MemoryCategory.allCases.enumerated() {
            keep.append(Tensor(uninitializedShape: [10 + i, 3], category: c))
        }
        for (i, c) in MemoryCategory.allCases.enumerated() {
            XCTAssertEqual(delta(before, c), (10 + i) * 3 * 4, "\(c)")
        }
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, keep.reduce(0) { $0 + $1.bytes })
        keep.removeAll()
        for c in MemoryCategory.allCases { XCTAssertEqual(delta(before, c), 0, "\(c) released") }
    }

    func testWithCategoryScopesNest() {
        let before = Memory.stats
        let (a, b, c) = Memory.withCategory(.optimizer) { () -> (Tensor, Tensor, Tensor) in
            let a = Tensor.zeros([100])
            let b = Memory.withCategory(.workspace) { Tensor.ones([50]) }
            return (a, b, Tensor.zeros([7]))
        }
        XCTAssertEqual(delta(before, .optimizer), 428)
        XCTAssertEqual(delta(before, .workspace), 200)
        XCTAssertEqual(Memory.currentCategory, .activation)
        withExtendedLifetime((a, b, c)) {}
    }

    /// A freed 256 MiB tensor leaves the process's peak RSS until `resetProcessPeakRSS()`, which
    /// hands the memory back and starts a new peak (what `llama-pretrain compare` does between runs).
    func testProcessPeakRSSResetsAfterMemoryIsReturned() {
        let megabytes = 256
        do {
            let big = Tensor.zeros([megabytes << 18])
            XCTAssertEqual(big.sum(), 0) // touched, so resident
        }
        let peakWithTensor = processPeakRSS()
        XCTAssertTrue(resetProcessPeakRSS(), "Linux offers /proc/self/clear_refs")
        XCTAssertLessThan(processPeakRSS(), peakWithTensor - (megabytes / 2) << 20)
    }

    func testPeakAndResetPeak() {
        Memory.resetPeak()
        let base = Memory.stats
        XCTAssertEqual(base.peakTotal, base.liveTotal)
        do {
            let big = Tensor.zeros([1000])      // +4000
            withExtendedLifetime(big) {}
        }
        let small = Tensor.zeros([10])          // +40, while big is gone
        let s = Memory.stats
        XCTAssertEqual(s.liveTotal - base.liveTotal, 40)
        XCTAssertEqual(s.peakTotal - base.liveTotal, 4000)
        XCTAssertEqual(s.peak(.activation) - base.live(.activation), 4000)
        Memory.resetPeak()
        XCTAssertEqual(Memory.stats.peakTotal, Memory.stats.liveTotal)
        withExtendedLifetime(small) {}
    }

    /// The per-category peaks happen at different moments; `atPeak` is the composition when the
    /// total peaked, so it sums to the total's peak.
    func testCompositionAtThePeak() {
        let (_, stats) = Memory.measure { () -> Int in
            let base = Memory.stats
            do {
                let activations = Tensor.zeros([1000])                                  // +4000 activation
                let work = Memory.withCategory(.workspace) { Tensor.zeros([500]) }      // +2000 workspace
                withExtendedLifetime((activations, work)) {}
            }
            let grads = Memory.withCategory(.gradient) { Tensor.zeros([5000]) }         // +20000 after both are freed
            withExtendedLifetime(grads) {}
            return base.liveTotal
        }
        XCTAssertEqual(stats.atPeak.reduce(0, +), stats.peakTotal)
        XCTAssertGreaterThanOrEqual(stats.atPeak[MemoryCategory.gradient.rawValue], 20000, "the gradient allocation is the peak")
        XCTAssertGreaterThan(stats.peak.reduce(0, +), stats.peakTotal, "per-category peaks sum to more than the total's")
        XCTAssertEqual(stats.compositionAtPeak["total"], stats.peakTotal)
    }

    func testNestedMeasure() {
        let base = Memory.stats.liveTotal
        let (outer, outerStats) = Memory.measure { () -> Int in
            let a = Tensor.zeros([100])                          // +400
            let (_, inner) = Memory.measure { () -> Int in
                let b = Tensor.zeros([1000])                     // +4000
                return withExtendedLifetime(b) { 0 }
            }
            XCTAssertEqual(inner.peakTotal - base, 4400, "inner peak includes what was live before it")
            XCTAssertEqual(inner.liveTotal - base, 400, "live after the inner body returned (b is freed)")
            let c = Tensor.zeros([200])                          // +800 → 1200 < 4400
            return withExtendedLifetime((a, c)) { 1 }
        }
        XCTAssertEqual(outer, 1)
        XCTAssertEqual(outerStats.peakTotal - base, 4400, "outer peak still sees the inner peak")
        XCTAssertEqual(outerStats.peak(.activation) - Memory.stats.live(.activation), 4400)
    }

    func testRecategorizeMovesBytes() {
        let before = Memory.stats
        let t = Tensor.zeros([25])
        XCTAssertEqual(delta(before, .activation), 100)
        t.storage.recategorize(.optimizer)
        XCTAssertEqual(delta(before, .activation), 0)
        XCTAssertEqual(delta(before, .optimizer), 100)
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, 100)
        withExtendedLifetime(t) {}
        XCTAssertEqual(t.storage.category, .optimizer)
    }

    func testCopyOnWriteCopiesOnlyOnWrite() {
        let before = Memory.stats
        let a = Tensor.ones([64])
        var b = a
        let r = a.reshaped([8, 8])
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, 256, "copies and reshapes share storage")
        XCTAssertFalse(b.isUniquelyReferenced())
        b[3] = 5
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, 512, "the first write copies once")
        b[4] = 6
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, 512, "later writes do not copy")
        XCTAssertEqual(a[3], 1)
        XCTAssertEqual(b[3], 5)
        XCTAssertTrue(b.isUniquelyReferenced())
        var c = Tensor.zeros([16])
        c.withUnsafeMutableBufferPointer { $0[0] = 1 } // unique: no copy
        XCTAssertEqual(Memory.stats.liveTotal - before.liveTotal, 512 + 64)
        withExtendedLifetime((a, r, c)) {}
    }

    func testCopyUsesRequestedCategory() {
        let before = Memory.stats
        let a = Tensor.zeros([10])
        let p = a.copy(category: .parameter)
        XCTAssertEqual(delta(before, .parameter), 40)
        XCTAssertFalse(p.storage === a.storage)
        withExtendedLifetime((a, p)) {}
    }

    func testCacheReusesFreedBlocks() {
        // A freed block goes to the cache; the next allocation of that size reuses it.
        var t: Tensor? = Tensor.zeros([12345])
        let addr = t!.storage.base
        t = nil
        let cached = Memory.stats.cached
        XCTAssertGreaterThan(cached, 0)
        let u = Tensor.zeros([12345])
        XCTAssertEqual(u.storage.base, addr)
        XCTAssertEqual(Int(bitPattern: u.storage.base) % 64, 0, "64-byte aligned")
        withExtendedLifetime(u) {}
    }

    /// Sizes within one size class (≤ 12.5% apart above 64 KiB) share cached blocks, so a tensor
    /// whose size changes slightly every step does not grow the cache.
    func testNearbySizesShareACachedBlock() {
        var t: Tensor? = Tensor.zeros([100_000])
        let addr = t!.storage.base
        t = nil
        let u = Tensor.zeros([99_000])
        XCTAssertEqual(u.storage.base, addr)
        XCTAssertGreaterThanOrEqual(Memory.stats.live(.activation), 99_000 * 4, "accounting stays in requested bytes")
        withExtendedLifetime(u) {}
    }

    /// `endStep` returns cached blocks that went unused for a whole step and keeps the others.
    func testEndStepTrimsBlocksUnusedForAStep() {
        Memory.endStep()
        var a: Tensor? = Tensor.zeros([1 << 18])  // freed now, reused in the next step
        var b: Tensor? = Tensor.zeros([3 << 18])  // freed now, never reused
        a = nil; b = nil
        let cachedAfterFree = Memory.stats.cached
        Memory.endStep()
        let reused = Tensor.zeros([1 << 18])
        Memory.endStep()
        XCTAssertLessThanOrEqual(Memory.stats.cached, cachedAfterFree - (3 << 18) * 4)
        withExtendedLifetime((a, b, reused)) {}
    }
}
