import ArgumentParser
import Foundation
import NN
import Tensor

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the same model, data and seed once per configuration and compare them.",
        discussion: """
        Each --runs entry is either an estimator spec applied to every transformer layer (or a full 'pattern=spec; ...' assignment), optionally followed by @OPTIMIZER to pin its optimizer (entries without @ run once per --optimizers entry), or 'NAME: FLAGS' with any of --estimators, --activations, --optimizer, --lr, --weight-decay, --clip, --grad-accum, --moe, --checkpoint-blocks on top of the common flags. Prints a table and writes compare.json and validation.svg (all validation curves) into --out.

        Examples (the GradLite ablations; the lean configuration against exact):
          llama-pretrain compare --steps 200 --runs exact
            'gradlite(rank:64,feedback:on)' 'gradlite(rank:64)'
            'gradlite(rank:64,adaptive:off)' 'haar(rank:64)'
            'exact@galore(rank:64)'
          llama-pretrain compare --steps 200 --runs exact
            "lean: --estimators 'default=exact; layers.*=gradlite(rank:64)' --activations 'default=int8; layers.*.attention=bf16'"
        """)

    @OptionGroup var flags: RunFlags
    @OptionGroup var shared: SharedFlags

    @Option(parsing: .upToNextOption, help: "Configurations to compare: SPEC[@OPTIMIZER] or 'NAME: FLAGS'. Example: --runs exact 'haar(rank:64)' 'bf16: --activations default=bf16'")
    var runs: [String] = ["exact"]

    @Option(parsing: .upToNextOption, help: "Optimizers for runs without @OPTIMIZER (default: --optimizer). Example: --optimizers adamw 'galore(rank:64)'")
    var optimizers: [String] = []

    struct Entry: Codable {
        var name: String
        var estimators: String
        var activations: String
        var optimizer: String
        var summary: RunSummary
    }

    func run() throws {
        do {
            Interrupt.install()
            installOutOfMemoryExit(tool: "llama-pretrain compare")
            let outURL = URL(fileURLWithPath: shared.out ?? "runs/compare")
            let plans = try runs.flatMap { try ComparePlan.plans(entry: $0, base: flags, shared: shared, optimizers: optimizers) }
            // Parse every configuration before training any, so a typo fails at once.
            for p in plans {
                let c = p.configuration
                _ = try PretrainSession.validateSpecs(estimators: c.estimators, activations: c.activations, optimizer: c.optimizer)
            }
            var entries: [Entry] = []
            for (i, p) in plans.enumerated() {
                print("== run \(i + 1)/\(plans.count): \(p.name)")
                // The previous run's memory is released: each run's peak RSS is its own.
                if i > 0, !resetProcessPeakRSS() {
                    print("note: this kernel cannot reset the peak RSS; peak_rss_bytes of this run is the process's")
                }
                let session = try PretrainSession(p.configuration)
                let dir = outURL.appendingPathComponent(String(format: "%02d-", i + 1) + folderName(p.name))
                let summary = try session.run(outDirectory: dir, reporter: ProgressReporter(label: "[\(p.name)] "),
                                              shouldStop: { Interrupt.isRequested })
                let c = p.configuration
                entries.append(Entry(name: p.name, estimators: c.estimators, activations: c.activations, optimizer: c.optimizer, summary: summary))
                if Interrupt.isRequested { print("interrupted: comparing the runs finished so far"); break }
            }
            print(table(entries))
            try writeCompareOutputs(entries, to: outURL)
            print("outputs: \(outURL.path)/{compare.json,validation.svg} and one folder per run")
        } catch {
            fail(error)
        }
    }

    func table(_ entries: [Entry]) -> String {
        let header = ["run", "val loss", "ppl", "tokens/s", "param", "grad", "optim", "activ", "work", "total", "saved act"]
        var rows = [header]
        for e in entries {
            let s = e.summary
            let mem = ["parameter", "gradient", "optimizer", "activation", "workspace", "total"].map { formatBytes(s.peakMemory[$0] ?? 0) }
            rows.append([e.name, s.finalValidationLoss.map { String(format: "%.4f", $0) } ?? "-",
                         s.finalValidationPerplexity.map { String(format: "%.2f", $0) } ?? "-",
                         String(format: "%.0f", s.tokensPerSecondMedian)] + mem + [formatBytes(s.peakSavedActivationBytes)])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
        let lines = rows.map { r in r.enumerated().map { c, v in c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                                                                        : String(repeating: " ", count: widths[c] - v.count) + v }.joined(separator: "  ") }
        return (["peak memory per category is the allocator's per-step peak; saved act = the tape's peak saved activations"]
                + [lines[0], String(repeating: "-", count: lines[0].count)] + lines.dropFirst()).joined(separator: "\n")
    }

    func writeCompareOutputs(_ entries: [Entry], to dir: URL) throws {
        var plot = LossPlot(title: "validation loss — \(flags.configuration(shared).model)")
        plot.yLabel = "validation loss"
        for e in entries {
            plot.series.append(.init(name: e.name, points: e.summary.validationCurve.map { (Double($0[0]), Double($0[1])) }))
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try writeAtomically(Data(plot.svg().utf8), to: dir.appendingPathComponent("validation.svg"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = RunSummary.keyStyle
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try writeAtomically(try encoder.encode(entries), to: dir.appendingPathComponent("compare.json"))
    }

    func folderName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }
}
