import Foundation

/// The collective operations a data-parallel run needs from its transport (MPI behind the `MPI`
/// trait; `SingleRank` otherwise). Every rank must call the same operations in the same order
/// with buffers of the same length: the collectives are blocking and matched by call order.
public protocol Collective: AnyObject {
    /// This process's index, `0 ..< worldSize`.
    var rank: Int { get }
    /// Number of ranks.
    var worldSize: Int { get }
    /// Replaces `buffer` by its element-wise sum over ranks.
    func sumInPlace(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Returns (minimum, maximum) of `value` over ranks (used to compare configuration hashes).
    func minMax(_ value: UInt64) -> (min: UInt64, max: UInt64)
    /// Returns rank 0's bytes on every rank (`bytes` is ignored elsewhere).
    func broadcast(_ bytes: [UInt8]) -> [UInt8]
    /// Waits until every rank has arrived.
    func barrier()
    /// Ends every rank of the job with `code` (never returns).
    func abort(code: Int32) -> Never
}

/// The one-process collective: every reduction is the identity.
public final class SingleRank: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func sumInPlace(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func minMax(_ value: UInt64) -> (min: UInt64, max: UInt64) { (value, value) }
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
    public func barrier() {}
    public func abort(code: Int32) -> Never { exit(code) }
}
