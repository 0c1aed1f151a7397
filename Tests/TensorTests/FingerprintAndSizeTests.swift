import Tensor
import TestSupport
import XCTest

/// FNV-1a, the finiteness test, overflow-checked sizes and the shared-storage scale.
final class FingerprintAndSizeTests: XCTestCase {
    func testFNV1aMatchesTheReferenceVectors() {
        // Published FNV-1a 64-bit test vectors.
        XCTAssertEqual(FNV1a.hash(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(FNV1a.hash("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(FNV1a.hash("foobar"), 0x8594_4171_f739_67e8)
        var h = FNV1a()
        h.combine(Array("foo".utf8))
        [UInt8]("bar".utf8).withUnsafeBytes { h.combine($0) }
        XCTAssertEqual(h.value, FNV1a.hash("foobar"), "streaming equals one shot")
        XCTAssertEqual(FNV1a.hex(0xab), "00000000000000ab")
    }

    /// The word-wise variant: one word then the tail bytes; any single bit flip changes it.
    func testWordwiseChecksumSeesEveryBit() {
        let bytes: [UInt8] = Array(0..<11)
        var h = FNV1a()
        bytes.withUnsafeBytes { h.combineWords($0) }
        var expected: UInt64 = 0xcbf2_9ce4_8422_2325
        expected ^= bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        expected &*= 0x0000_0100_0000_01b3
        for b in bytes[8...] { expected ^= UInt64(b); expected &*= 0x0000_0100_0000_01b3 }
        XCTAssertEqual(h.value, expected)
        var seen = Set([h.value])
        for i in bytes.indices {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[i] ^= 1 << bit
                var g = FNV1a()
                flipped.withUnsafeBytes { g.combineWords($0) }
                XCTAssertTrue(seen.insert(g.value).inserted, "flip of bit \(bit) in byte \(i)")
            }
        }
    }

    func testIsAllFiniteSeesEveryElement() {
        for count in [0, 1, 15, 16, 17, 40] {
            var t = Tensor(shape: [count], repeating: 1)
            XCTAssertTrue(t.isAllFinite, "\(count)")
            for bad: Float in [.nan, .infinity, -.infinity] where count > 0 {
                for i in [0, count / 2, count - 1] {
                    let saved = t[i]
                    t[i] = bad
                    XCTAssertFalse(t.isAllFinite, "\(bad) at \(i) of \(count)")
                    XCTAssertEqual(t.nonFiniteCount, 1)
                    t[i] = saved
                }
            }
        }
        XCTAssertTrue(Tensor([Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude]).isAllFinite)
    }

    func testSizeArithmeticThrowsInsteadOfTrapping() {
        XCTAssertEqual(try Size.product(3, 4, 5, what: "x"), 60)
        XCTAssertEqual(try Size.product([], what: "x"), 1)
        XCTAssertThrowsError(try Size.product(1 << 40, 1 << 40, what: "the thing")) { error in
            XCTAssertEqual("\(error)", "the thing: 1099511627776 × 1099511627776 overflows a 64-bit size")
        }
        XCTAssertThrowsError(try Size.sum([Int.max, 1], what: "total"))
        XCTAssertNil(Size.elementCount([1 << 32, 1 << 32]))
    }

    func testScaleSharedStorageScalesEveryHolderWithoutCopying() {
        var a = Tensor([1, 2, 3])
        let b = a
        a.scaleSharedStorage(by: 2)
        XCTAssertEqual(b.scalars, [2, 4, 6])
        XCTAssertTrue(a.storage === b.storage)
        a.scale(by: 0.5) // copy-on-write: b keeps its values
        XCTAssertEqual(b.scalars, [2, 4, 6])
        XCTAssertEqual(a.scalars, [1, 2, 3])
    }

    func testNaNAwareMaxDoesNotSkipNaN() {
        XCTAssertTrue(nanAwareMax([Float(1), .nan, 3]).isNaN)
        XCTAssertEqual(nanAwareMax([1.0, 5, 3]), 5)
        XCTAssertTrue(maxAbsDifference(Tensor([1, .nan]), Tensor([1, 2])).isNaN)
    }
}
