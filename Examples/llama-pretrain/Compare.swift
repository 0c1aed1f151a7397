import ArgumentParser
import Foundation
import NN

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the same model, data and seed once per configuration and compare them.",
        discussion: """
        Each --runs entry is an estimator spec applied to every transformer layer (or a full 'pattern=spec; ...' assignment), optionally followed by @OPTIMIZER to pin its optimizer; entries without @ run once per --optimizers entry. Prints a table and writes compare.json and validation.svg (all validation curves) into --out.

        Example (the GradLite ablations):
          llama-pretrain compare --steps 200 --runs exact
            'gradlite(rank:64,feedback:on)' 'gradlite(rank:64)'
            'gradlite(rank:64,adaptive:off)' 'haar(rank:64)'
            'exact@galore(rank:64)'
        """)

    @OptionGroup var flags: RunFlags

    @Option(parsing: .upToNextOption, help: "Estimator configurations to compare. Example: --runs exact 'haar(rank:64)'")
    var runs: [String] = ["exact"]

    @Option(parsing: .upToNextOption, help: "Optimizers for runs without @OPTIMIZER (default: --optimizer). Example: --optimizers adamw 'galore(rank:64)'")
    var optimizers: [String] = []

    struct Entry: Codable {
        var name: String
        var estimators: String
        var optimizer: String
        var summary: RunSummary
    }

    func run() throws {
        do {
            Interrupt.install()
            installOutOfMemoryExit(tool: "llama-pretrain compare")
            let outURL = URL(fileURLWithPath: flags.out ?? "runs/compare")
            var plans: [(name: String, estimators: String, optimizer: String)] = []
            for r in runs {
                let parts = r.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
                    throw RunError("--runs: '\(r)' is not an estimator spec optionally followed by @OPTIMIZER (e.g. 'haar(rank:64)' or 'exact@galore(rank:64)')")
                }
                let estimators = parts[0].contains("=") ? parts[0] : "default=exact; layers.*=\(parts[0])"
                for o in parts.count == 2 ? [parts[1]] : (optimizers.isEmpty ? [flags.optimizer ?? "adamw"] : optimizers) {
                    plans.append((parts.count == 2 || optimizers.count > 1 ? "\(parts[0]) @ \(o)" : parts[0], estimators, o))
                }
            }
            // Parse every configuration before training any, so a typo fails at once.
            for p in plans { _ = try PretrainSession.validateSpecs(estimators: p.estimators, optimizer: p.optimizer) }
            var entries: [Entry] = []
            for (i, p) in plans.enumerated() {
                print("== run \(i + 1)/\(plans.count): \(p.name)")
                let session = try PretrainSession(flags.configuration(estimators: p.estimators, optimizer: p.optimizer))
                let dir = outURL.appendingPathComponent(String(format: "%02d-", i + 1) + folderName(p.name))
                let summary = try session.run(outDirectory: dir, reporter: ProgressReporter(label: "[\(p.name)] "),
                                              shouldStop: { Interrupt.isRequested })
                entries.append(Entry(name: p.name, estimators: p.estimators, optimizer: p.optimizer, summary: summary))
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
        var plot = LossPlot(title: "validation loss — \(flags.config ?? "llama-20m")")
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
