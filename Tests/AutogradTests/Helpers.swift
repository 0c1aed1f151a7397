import Tensor
import TestSupport
import XCTest

/// Asserts equal shapes and `max |a − b| ≤ tol`.
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
    let d = maxAbsDifference(a, b)
    XCTAssertLessThanOrEqual(d, tol, "max |a − b| = \(d) \(message)", file: file, line: line)
}
