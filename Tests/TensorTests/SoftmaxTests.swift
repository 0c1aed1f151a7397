import Foundation
import Tensor
import XCTest

/// Row softmax / log-softmax against a Double reference; 1e-6 absolute on probabilities,
/// 1e-5 relative on log-probabilities; stable for inputs of magnitude 1e4.
final class SoftmaxTests: XCTestCase {
    func reference(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testRowsSumToOneAndMatchReference() {
        for shape in [[1], [3, 17], [2, 3, 65], [4, 1000]] {
            let x = randn(shape, seed: 1) * 3
            let y = x.softmax(), ly = x.logSoftmax()
            let n = shape.last!
            for r in 0..<(x.count / n) {
                let row = Array(x.scalars[(r * n)..<((r + 1) * n)])
                let ref = reference(row)
                let yr = Array(y.scalars[(r * n)..<((r + 1) * n)]), lr = Array(ly.scalars[(r * n)..<((r + 1) * n)])
                XCTAssertEqual(yr.reduce(0.0) { $0 + Double($1) }, 1, accuracy: 1e-5)
                for i in 0..<n {
                    XCTAssertEqual(Double(yr[i]), ref[i], accuracy: 1e-6)
                    XCTAssertEqual(Double(lr[i]), log(ref[i]), accuracy: 1e-5 * max(1, abs(log(ref[i]))))
                }
            }
        }
    }

    func testLargeInputsAreStable() {
        let x = Tensor([1e4, 1e4 - 1, -1e4, 5e3, 1e4], shape: [1, 5])
        let y = x.softmax().scalars, ly = x.logSoftmax().scalars
        XCTAssertTrue(y.allSatisfy(\.isFinite) && ly.allSatisfy(\.isFinite))
        let e1 = exp(-1.0), z = 2 + e1
        XCTAssertEqual(Double(y[0]), 1 / z, accuracy: 1e-6)
        XCTAssertEqual(Double(y[1]), e1 / z, accuracy: 1e-6)
        XCTAssertEqual(y[2], 0)
        XCTAssertEqual(Double(ly[0]), -log(z), accuracy: 1e-5)
        XCTAssertEqual(Double(ly[2]), -2e4 - log(z), accuracy: 1e-2)
        let neg = Tensor([-1e4, -1e4], shape: [2]).softmax().scalars
        XCTAssertEqual(neg, [0.5, 0.5])
    }

    func testManyRowsInParallel() {
        // 16 rows of 32000: enough to split across threads.
        let x = randn([16, 32000], seed: 9)
        let y = x.softmax()
        let sums = y.sum(axis: 1).scalars
        for s in sums { XCTAssertEqual(s, 1, accuracy: 1e-4) }
        let row = Array(x.scalars[(13 * 32000)..<(14 * 32000)])
        let ref = reference(row)
        for i in stride(from: 0, to: 32000, by: 997) { XCTAssertEqual(Double(y[13, i]), ref[i], accuracy: 1e-7) }
    }
}
