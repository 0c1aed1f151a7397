/// A primitive got a matrix with NaN or infinite entries, which would otherwise come back as a
/// silently wrong basis (LAPACK does not reliably report it).
public struct NonFiniteInputError: Error, CustomStringConvertible {
    public let op: String
    public let shape: [Int]
    public init(op: String, shape: [Int]) { self.op = op; self.shape = shape }
    public var description: String { "\(op): non-finite entries in a matrix of shape \(shape)" }
}
