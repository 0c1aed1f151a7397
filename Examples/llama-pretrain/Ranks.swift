import Estimators
import Foundation
import NN
#if MPI
import SketchgradMPI
#endif

/// The data-parallel side of llama-pretrain. Built with `--traits MPI` and started by `mpirun`,
/// each process is one rank of MPI_COMM_WORLD; otherwise (or without mpirun) it is the only one.
enum Ranks {
    /// The world when started by mpirun with the MPI trait; nil in one process.
    nonisolated(unsafe) private(set) static var collective: Collective?

    static var rank: Int { collective?.rank ?? 0 }
    static var worldSize: Int { collective?.worldSize ?? 1 }
    /// Rank 0 alone prints and writes the run's outputs.
    static var isLeader: Bool { rank == 0 }

    /// Bytes per all-reduce of exact gradients: ≈ 25 MB, or `SKETCHGRAD_BUCKET_BYTES` (tests use
    /// small buckets to exercise many of them on a tiny model).
    static var bucketBytes: Int {
        ProcessInfo.processInfo.environment["SKETCHGRAD_BUCKET_BYTES"].flatMap { Int($0) }.map { Swift.max(4, $0) } ?? 25 << 20
    }

    /// Joins the MPI world when mpirun started this process (it sets OMPI_COMM_WORLD_SIZE); a
    /// plain start stays one process without initialising MPI.
    static func start() {
        #if MPI
        if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil {
            collective = MPICollective(Communicator())
        }
        #endif
    }

    static func finish() {
        #if MPI
        (collective as? MPICollective)?.communicator.finalize()
        #endif
    }

    /// Builds the session on rank 0 first (it writes the shared caches: the built-in corpus,
    /// tokenizer, token cache), then on the others, which then read them.
    static func build<T>(_ make: () throws -> T) throws -> T {
        guard let c = collective, c.worldSize > 1 else { return try make() }
        if c.rank == 0 {
            let value = try make()
            c.barrier()
            return value
        }
        c.barrier()
        return try make()
    }

    /// Data parallel: compares a hash of the final weights across ranks, which must agree bit for
    /// bit (every rank applies the same update from the same all-reduced gradient); rank 0 says so.
    static func checkIdenticalWeights(_ session: PretrainSession) throws {
        guard let c = collective, c.worldSize > 1 else { return }
        let hash = c.minMax(session.weightsHash())
        guard hash.min == hash.max else {
            throw RunError("data parallel: the ranks' weights differ after training (a rank computed a different update)")
        }
        if c.rank == 0 { print("data parallel: weights identical on all \(c.worldSize) ranks (hash \(String(hash.min, radix: 16)))") }
    }

    /// Ends the job after an error on this rank. Rank 0 prints the line and aborts every rank.
    /// Another rank first gives rank 0 a moment: an error every rank meets (a divergence, a bad
    /// flag) then ends with rank 0's line after rank 0 wrote its outputs; an error of this rank
    /// alone (its input, its disk) ends the job with this rank's line.
    static func fail(_ line: String) -> Never {
        guard let c = collective, c.worldSize > 1 else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
            exit(1)
        }
        if c.rank != 0 { sleep(5) }
        FileHandle.standardError.write(Data("\(c.rank == 0 ? line : "rank \(c.rank): \(line)")\n".utf8))
        c.abort(code: 1)
    }
}
