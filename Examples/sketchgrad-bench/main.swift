import Foundation

// sketchgrad-bench <subcommand> [options]: one JSON object per run on stdout.
// Each subcommand lives in its own file; add a case here for a new one.

let benchUsage = """
    usage: sketchgrad-bench <subcommand> [options]
      kernels      sgemm, elementwise and softmax throughput of the Tensor kernels  [--reps N]
      estimators   backward estimators of a linear layer vs exact  [--rows N] [--iterations I] [--refresh T]
      train        LLaMA training throughput and memory  [--config llama-20m] [--batch 8] [--seq 256] [--steps 10]
                   [--warmup 2] [--threads 2] [--estimators SPEC] [--activations SPEC] [--optimizer SPEC] [--moe SPEC]
                   [--checkpoint-blocks] [--pytorch PYTHON]
    """

let benchArguments = Array(CommandLine.arguments.dropFirst())
switch benchArguments.first {
case "kernels":
    runKernelBenchmark(arguments: Array(benchArguments.dropFirst()))
case "estimators":
    runEstimatorBenchmark(arguments: Array(benchArguments.dropFirst()))
case "train":
    do {
        let result = try runTrainBench(Array(benchArguments.dropFirst()))
        let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    } catch {
        FileHandle.standardError.write(Data("sketchgrad-bench train: \(error)\n".utf8))
        exit(1)
    }
case "-h", "--help", "help":
    print(benchUsage)
default:
    let what = benchArguments.first.map { "unknown subcommand '\($0)'" } ?? "missing subcommand"
    FileHandle.standardError.write(Data("sketchgrad-bench: \(what)\n\(benchUsage)\n".utf8))
    exit(2)
}
