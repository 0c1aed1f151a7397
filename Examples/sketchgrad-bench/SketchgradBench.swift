import ArgumentParser
import COpenBLAS
import Foundation
import NN
import Tensor

/// `sketchgrad-bench <subcommand>`: each subcommand prints one JSON object on stdout per run.
/// Each subcommand lives in its own file; add it to `subcommands` here.
struct SketchgradBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sketchgrad-bench",
        abstract: "Benchmarks of Sketchgrad's kernels, estimators and training; each prints one JSON object on stdout.",
        discussion: """
        Build with `swift build -c release` and run the binary from .build/release.

        Examples:
          sketchgrad-bench kernels --reps 9
          sketchgrad-bench estimators --rows 2048 --iterations 30
          sketchgrad-bench train --steps 10 --warmup 2 --estimators 'default=exact;layers.*=gradlite(rank:64)'
          sketchgrad-bench memory --config llama-20m --batch 8 --seq 256
          sketchgrad-bench gradient-error --config llama-20m
        """,
        subcommands: [KernelsCommand.self, EstimatorsCommand.self, TrainCommand.self, MemoryCommand.self, GradientErrorCommand.self])
}

/// Which sgemm kernels ran: OpenBLAS's core name and the machine's `OPENBLAS_CORETYPE` ("unset"
/// when absent), since figures differ by up to 2× between kernels on one processor (TOOLCHAIN.md).
func openBLASKernel() -> [String: String] {
    ["openblas_core": String(cString: openblas_get_corename()),
     "openblas_coretype_env": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"]
}

/// Prints `object` as one pretty, key-sorted JSON object on stdout.
func printJSON<T: Encodable>(_ object: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(object), as: UTF8.self))
}

/// Runs `body`, turning any error into one line on stderr and exit status 1, and an allocation
/// the pre-flight did not foresee into the same.
func benchmark(_ name: String, _ body: () throws -> Void) throws {
    Memory.allocationFailureHandler = { failure in
        FileHandle.standardError.write(Data("sketchgrad-bench \(name): error: \(failure)\n".utf8))
        exit(1)
    }
    do { try body() } catch {
        FileHandle.standardError.write(Data("sketchgrad-bench \(name): error: \("\(error)".oneLine)\n".utf8))
        throw ExitCode(1)
    }
}

/// Refuses a benchmark whose tensors would not fit (one line giving the estimate).
func checkFits(_ bytes: Int, what: String) throws {
    let limit = try MemoryLimit.current()
    guard bytes <= limit.bytes else {
        throw RunError("\(what) needs about \(formatByteCount(bytes)) but \(limit); use smaller sizes")
    }
}
