import Foundation
@testable import Tensor
import XCTest

final class ParallelTests: XCTestCase {
    /// A `forEachItem` inside another's items runs every item once and leaves the outer call's
    /// workers unsplit when it returns (it used to clear the flag the outer call had set).
    func testNestedForEachItemRunsEveryItemOnceAndKeepsOuterSgemmsUnsplit() {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        Parallel.setThreads(2)
        let lock = NSLock()
        var visits: [Int: Int] = [:], partsAfterInner: [Int] = []
        Parallel.forEachItem(4) { outer, _ in
            Parallel.forEachItem(3) { inner, worker in
                XCTAssertEqual(worker, 0, "nested items run on the calling worker")
                lock.lock(); visits[outer * 3 + inner, default: 0] += 1; lock.unlock()
            }
            let parts = Parallel.gemmParts(length: 4096, work: 1 << 30)
            lock.lock(); partsAfterInner.append(parts); lock.unlock()
        }
        XCTAssertEqual(visits.count, 12)
        XCTAssertTrue(visits.values.allSatisfy { $0 == 1 }, "\(visits)")
        XCTAssertEqual(partsAfterInner, [1, 1, 1, 1], "sgemms of the outer items stay unsplit")
        XCTAssertEqual(Parallel.gemmParts(length: 4096, work: 1 << 30), 2, "outside items the split comes back")
    }
}
