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
      memory       peak memory by category, RSS and tokens/s of exact, checkpointing, estimators and the lean
                   configuration (each in a fresh process), optionally beside PyTorch; JSON plus an SVG chart
                   [--config llama-20m] [--batch 8] [--seq 256] [--steps 3] [--warmup 1] [--threads 2] [--rank K]
                   [--pytorch PYTHON] [--chart PATH]
      gradient-error  relative L2 error of each parameter group's gradient against exact, per op and codec and
                   for the lean configuration, on one batch  [--config llama-20m] [--batch 8] [--seq 256]
                   [--threads 2] [--rank K] [--seed 0]
    """

let benchArguments = Array(CommandLine.arguments.dropFirst())
switch benchArguments.first {
case "kernels":
    runKernelBenchmark(arguments: Array(benchArguments.dropFirst()))
case "estimators":
    runEstimatorBenchmark(arguments: Array(benchArguments.dropFirst()))
case "train", "memory", "gradient-error":
    do {
        let rest = Array(benchArguments.dropFirst())
        let run = ["train": runTrainBench, "memory": runMemoryBench, "gradient-error": runGradientErrorBench][benchArguments[0]]!
        let result = try run(rest)
        let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    } catch {
        FileHandle.standardError.write(Data("sketchgrad-bench \(benchArguments[0]): \(error)\n".utf8))
        exit(1)
    }
case "-h", "--help", "help":
    print(benchUsage)
default:
    let what = benchArguments.first.map { "unknown subcommand '\($0)'" } ?? "missing subcommand"
    FileHandle.standardError.write(Data("sketchgrad-bench: \(what)\n\(benchUsage)\n".utf8))
    exit(2)
}
