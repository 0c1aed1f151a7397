#if MPI
import Estimators

/// The `Collective` data parallelism runs on, over MPI_COMM_WORLD.
public final class MPICollective: Collective {
    public let communicator: Communicator

    public init(_ communicator: Communicator) { self.communicator = communicator }

    public var rank: Int { communicator.rank }
    public var worldSize: Int { communicator.size }
    public func sumInPlace(_ buffer: UnsafeMutableBufferPointer<Float>) { communicator.allreduceSum(buffer) }
    public func startSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> PendingSum {
        MPIPendingSum(communicator.startAllreduceSum(buffer))
    }
    public func minMax(_ value: UInt64) -> (min: UInt64, max: UInt64) { communicator.allreduceMinMax(value) }
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { communicator.broadcast(bytes) }
    public func barrier() { communicator.barrier() }
    public func abort(code: Int32) -> Never { communicator.abort(code: code) }
}

/// An MPI_Iallreduce in flight.
final class MPIPendingSum: PendingSum {
    let request: Communicator.Request
    init(_ request: Communicator.Request) { self.request = request }
    func poll() { request.poll() }
    func wait() { request.wait() }
}
#endif
