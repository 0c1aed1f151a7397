#if MPI
import CMPI
import Foundation

/// A thin Swift face of MPI_COMM_WORLD: rank, size and the few blocking collectives data
/// parallelism needs. `MPI_Init` runs once in `init`, `MPI_Finalize` in `finalize()`.
///
/// Errors: MPI's default handler (MPI_ERRORS_ARE_FATAL) ends the whole job on any MPI failure, and
/// a rank that dies is noticed by `mpirun`, which ends the others; so a collective never returns
/// a failure code here.
public final class Communicator {
    public let rank: Int
    public let size: Int

    /// Initialises MPI (call once per process, before any other MPI use).
    public init() {
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        MPI_Init(&argc, &argv)
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(sg_comm_world(), &r)
        MPI_Comm_size(sg_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
    }

    /// Sum over ranks, in place. - Parameter buffer: the same length on every rank.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard size > 1, let base = buffer.baseAddress else { return }
        // MPI counts are Int32: split very large buffers.
        var offset = 0
        while offset < buffer.count {
            let n = Swift.min(buffer.count - offset, Int(Int32.max))
            MPI_Allreduce(sg_in_place(), base + offset, Int32(n), sg_float(), sg_sum(), sg_comm_world())
            offset += n
        }
    }

    /// Starts a sum over ranks in place (MPI_Iallreduce); `buffer` must stay allocated and
    /// untouched until the request's `wait()`.
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> Request {
        let request = Request()
        guard size > 1, let base = buffer.baseAddress, buffer.count > 0 else { return request }
        precondition(buffer.count <= Int(Int32.max), "Communicator: a bucket of \(buffer.count) floats exceeds MPI's count")
        var r: MPI_Request?
        MPI_Iallreduce(sg_in_place(), base, Int32(buffer.count), sg_float(), sg_sum(), sg_comm_world(), &r)
        request.handle = r
        return request
    }

    /// A non-blocking operation in flight.
    public final class Request {
        var handle: MPI_Request?

        /// Advances the operation without blocking (MPI_Test).
        public func poll() {
            guard handle != nil else { return }
            var done: Int32 = 0
            MPI_Test(&handle, &done, sg_status_ignore())
            if done != 0 { handle = nil }
        }

        /// Blocks until the operation is complete (MPI_Wait).
        public func wait() {
            guard handle != nil else { return }
            MPI_Wait(&handle, sg_status_ignore())
            handle = nil
        }
    }

    /// Minimum and maximum of `value` over ranks.
    public func allreduceMinMax(_ value: UInt64) -> (min: UInt64, max: UInt64) {
        var v = value, lo: UInt64 = 0, hi: UInt64 = 0
        MPI_Allreduce(&v, &lo, 1, sg_uint64(), sg_min(), sg_comm_world())
        MPI_Allreduce(&v, &hi, 1, sg_uint64(), sg_max(), sg_comm_world())
        return (lo, hi)
    }

    /// Rank `root`'s bytes on every rank (lengths are broadcast first, so other ranks may pass []).
    public func broadcast(_ bytes: [UInt8], root: Int = 0) -> [UInt8] {
        var count = UInt64(bytes.count)
        MPI_Bcast(&count, 1, sg_uint64(), Int32(root), sg_comm_world())
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        if count > 0 {
            _ = out.withUnsafeMutableBytes { MPI_Bcast($0.baseAddress, Int32(count), sg_byte(), Int32(root), sg_comm_world()) }
        }
        return out
    }

    public func barrier() { MPI_Barrier(sg_comm_world()) }

    /// Ends every rank of the job with `code`.
    public func abort(code: Int32) -> Never {
        MPI_Abort(sg_comm_world(), code)
        exit(code)   // MPI_Abort does not return; this satisfies the type checker
    }

    public func finalize() { MPI_Finalize() }
}
#endif
