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
    /// Starts summing `buffer` over ranks and returns at once; the sum is in `buffer` after the
    /// returned operation's `wait()`. The buffer must stay allocated and untouched until then.
    /// Default: the blocking `sumInPlace`, done before returning.
    func startSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> PendingSum
    /// Returns (minimum, maximum) of `value` over ranks (used to compare configuration hashes).
    func minMax(_ value: UInt64) -> (min: UInt64, max: UInt64)
    /// Returns rank 0's bytes on every rank (`bytes` is ignored elsewhere).
    func broadcast(_ bytes: [UInt8]) -> [UInt8]
    /// Waits until every rank has arrived.
    func barrier()
    /// Ends every rank of the job with `code` (never returns).
    func abort(code: Int32) -> Never
}

/// A sum in flight (`Collective.startSum`).
public protocol PendingSum: AnyObject {
    /// Lets the transport advance the sum (MPI progresses non-blocking collectives only inside
    /// MPI calls); never blocks.
    func poll()
    /// Blocks until the sum is in the buffer.
    func wait()
}

/// A sum that was complete when it was started.
public final class CompletedSum: PendingSum {
    public init() {}
    public func poll() {}
    public func wait() {}
}

extension Collective {
    public func startSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> PendingSum {
        sumInPlace(buffer)
        return CompletedSum()
    }
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
