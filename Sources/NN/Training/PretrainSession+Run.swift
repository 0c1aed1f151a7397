import Autograd
import Foundation
import Tensor

/// The training loop with its outputs: `metrics.jsonl`, `loss.svg`, `summary.json`, the
/// checkpoint (`checkpoint/`: Hugging Face-named weights, training state, config) and `run.json`.
extension PretrainSession {
    public static let checkpointFolder = "checkpoint"
    public static let runFile = "run.json"

    /// Trains from the trainer's current step to `training.steps` (or until `shouldStop()`),
    /// evaluating every `evalEvery` steps and at the end, then saves the checkpoint and outputs.
    public func run(outDirectory: URL?, reporter: RunReporter? = nil, shouldStop: () -> Bool = { false }) throws -> RunSummary {
        let t = configuration.training
        var metricsFile: MetricsLog?
        if let out = outDirectory {
            try createDirectory(out)
            try writeJSON(configuration, to: out.appendingPathComponent(Self.runFile))
            metricsFile = try MetricsLog(url: out.appendingPathComponent("metrics.jsonl"), keepingStepsUpTo: trainer.step)
        }
        var history = metricsFile?.previous ?? []
        var interrupted = false
        while trainer.step < t.steps {
            var m = trainer.trainStep()
            guard m.loss.isFinite else {
                throw RunError("training diverged: loss is \(m.loss) at step \(m.step) (try a lower --lr or --clip 1)")
            }
            if t.evalEvery > 0 && (m.step % t.evalEvery == 0 || m.step == t.steps) {
                let v = trainer.evaluate()
                m.validationLoss = v
                reporter?.evaluated(step: m.step, loss: v)
            }
            history.append(m)
            try metricsFile?.append(m)
            reporter?.stepped(m, totalSteps: t.steps)
            if shouldStop() { interrupted = true; break }
        }
        let summary = makeSummary(history, interrupted: interrupted)
        if let out = outDirectory {
            try saveCheckpoint(in: out)
            try writeJSON(summary, to: out.appendingPathComponent("summary.json"))
            try writeAtomically(Data(lossPlot(history).svg().utf8), to: out.appendingPathComponent("loss.svg"))
            if interrupted { reporter?.note("interrupted at step \(trainer.step): checkpoint saved in \(out.path)") }
        }
        return summary
    }

    /// Saves weights, training state and config into `out/checkpoint`, replacing the previous
    /// checkpoint only once the new one is complete (written beside it, then swapped by renames).
    public func saveCheckpoint(in out: URL) throws {
        let final = out.appendingPathComponent(Self.checkpointFolder)
        let fresh = out.appendingPathComponent(Self.checkpointFolder + ".new")
        let old = out.appendingPathComponent(Self.checkpointFolder + ".old")
        let fm = FileManager.default
        try? fm.removeItem(at: fresh)
        let state = TrainingState(step: trainer.step, rngs: ["data": trainer.dataRNG], config: configurationJSON,
                                  estimatorSpec: assignment.description, optimizerSpec: configuration.optimizer,
                                  optimizerState: optimizer.stateTensors(), optimizerCodes: optimizer.stateCodes(),
                                  estimatorState: TrainingState.estimatorState(of: model))
        try NN.saveCheckpoint(model: model, to: fresh, trainingState: state, config: try modelConfig.huggingFaceJSON())
        do {
            try? fm.removeItem(at: old)
            if fm.fileExists(atPath: final.path) { try fm.moveItem(at: final, to: old) }
            try fm.moveItem(at: fresh, to: final)
            try? fm.removeItem(at: old)
        } catch {
            throw RunError("cannot move the new checkpoint into \(final.path): \(error.localizedDescription)")
        }
    }

    /// Rebuilds the session saved in `directory` (its `run.json`) and restores its checkpoint, so
    /// training continues exactly where it stopped. `steps` may extend the run.
    public static func resume(from directory: URL, steps: Int? = nil,
                              cacheDirectory: URL = PretrainSession.defaultCacheDirectory) throws -> PretrainSession {
        let runURL = directory.appendingPathComponent(runFile)
        guard let data = FileManager.default.contents(atPath: runURL.path) else {
            throw RunError("--resume: \(runURL.path) not found (is \(directory.path) the --out folder of a run?)")
        }
        var config: RunConfiguration
        do { config = try JSONDecoder().decode(RunConfiguration.self, from: data) } catch {
            throw RunError("--resume: \(runURL.path) is not a valid run file: \(error.localizedDescription)")
        }
        if let steps { config.training.steps = steps }
        let session = try PretrainSession(config, cacheDirectory: cacheDirectory)
        var ckpt = directory.appendingPathComponent(checkpointFolder)
        let old = directory.appendingPathComponent(checkpointFolder + ".old")
        // A save interrupted between its two renames leaves only the previous checkpoint, as `.old`.
        if !FileManager.default.fileExists(atPath: ckpt.path), FileManager.default.fileExists(atPath: old.path) { ckpt = old }
        guard let state = try loadCheckpoint(into: session.model, from: ckpt) else {
            throw RunError("--resume: \(ckpt.path) has no training state")
        }
        try session.optimizer.loadState(state.optimizerState, codes: state.optimizerCodes)
        session.trainer.step = state.step
        if let rng = state.rngs["data"] { session.trainer.dataRNG = rng }
        return session
    }

    var configurationJSON: String {
        (try? String(decoding: JSONEncoder().encode(configuration), as: UTF8.self)) ?? "{}"
    }

    func makeSummary(_ history: [StepMetrics], interrupted: Bool) -> RunSummary {
        let timed = history.count > 1 ? Array(history.dropFirst()) : history
        var peaks: [String: Int] = [:]
        for m in history { peaks.merge(m.peakMemory, uniquingKeysWith: max) }
        let val = history.compactMap { m in m.validationLoss.map { [Float(m.step), $0] } }
        let lastVal = val.last?[1]
        return RunSummary(
            configuration: configuration, modelConfig: modelConfig, parameters: model.parameterCount,
            estimatorAssignment: estimatorReport, optimizer: optimizer.description, steps: trainer.step,
            finalTrainLoss: history.suffix(10).map(\.loss).reduce(0, +) / Float(max(1, min(10, history.count))),
            finalValidationLoss: lastVal, finalValidationPerplexity: lastVal.map { Foundation.exp($0) },
            tokensPerSecondMedian: median(timed.map(\.tokensPerSecond)),
            msPerStepMedian: median(timed.map { $0.msForward + $0.msBackward + $0.msOptimizer }),
            peakMemory: peaks, peakSavedActivationBytes: history.map(\.savedActivationBytes).max() ?? 0,
            peakRSSBytes: processPeakRSS(), interrupted: interrupted, validationCurve: val)
    }

    func lossPlot(_ history: [StepMetrics]) -> LossPlot {
        var plot = LossPlot(title: "\(configuration.model) — \(assignment.description) — \(configuration.optimizer)")
        plot.series.append(.init(name: "train", points: history.map { (Double($0.step), Double($0.loss)) }))
        let val = history.compactMap { m in m.validationLoss.map { (Double(m.step), Double($0)) } }
        if !val.isEmpty { plot.series.append(.init(name: "validation", points: val)) }
        return plot
    }
}

func createDirectory(_ url: URL) throws {
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
        throw RunError("cannot create \(url.path): \(error.localizedDescription)")
    }
}

func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeAtomically(try encoder.encode(value), to: url)
}
