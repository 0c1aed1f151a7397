import Autograd
import Foundation
import Tensor

/// The training loop with its outputs: `metrics.jsonl`, `loss.svg`, `summary.json`, the
/// checkpoint (`checkpoint/`: Hugging Face-named weights, training state, config.json,
/// tokenizer.json and tokenizer_config.json) and `run.json`.
extension PretrainSession {
    public static let checkpointFolder = "checkpoint"
    public static let runFile = "run.json"

    /// Trains from the trainer's current step to `training.steps` (or until `shouldStop()`),
    /// evaluating every `evalEvery` steps and at the end, saving a checkpoint every `saveEvery`
    /// steps and at the end, then writing the outputs.
    ///
    /// A non-finite loss, gradient norm or validation loss stops the run: the outputs describe the
    /// steps before it, no checkpoint is written for the diverged state (the last good one stays),
    /// and it throws `RunError` "training diverged at step N (…)".
    public func run(outDirectory: URL?, reporter: RunReporter? = nil, shouldStop: () -> Bool = { false }) throws -> RunSummary {
        let t = configuration.training
        var metricsFile: MetricsLog?
        if let out = outDirectory {
            try createDirectory(out)
            try writeJSON(record, to: out.appendingPathComponent(Self.runFile))
            metricsFile = try MetricsLog(url: out.appendingPathComponent("metrics.jsonl"), keepingStepsUpTo: trainer.step)
        }
        var history = metricsFile?.previous ?? []
        var interrupted = false
        while trainer.step < t.steps {
            var m = trainer.trainStep()
            var divergence: String?
            if !m.loss.isFinite {
                divergence = "loss \(numberText(m.loss))"
            } else if let g = m.gradNorm, !g.isFinite {
                divergence = "gradient norm \(numberText(g)); the step was not applied"
            } else if t.evalEvery > 0 && (m.step % t.evalEvery == 0 || m.step == t.steps) {
                let v = trainer.evaluate()
                m.validationLoss = v
                if v.isFinite { reporter?.evaluated(step: m.step, loss: v) } else { divergence = "validation loss \(numberText(v))" }
            }
            if let divergence {
                if let out = outDirectory { try writeOutputs(history, in: out, interrupted: false, divergedAt: m.step) }
                let kept = checkpointStep.map { "the last good checkpoint (step \($0)) is kept in \(outDirectory?.appendingPathComponent(Self.checkpointFolder).path ?? "the run folder")" }
                    ?? "no checkpoint had been saved yet (--save-every sets how often)"
                throw RunError("training diverged at step \(m.step) (\(divergence)); \(kept); try a lower --lr, --clip 1 or a longer --warmup")
            }
            history.append(m)
            try metricsFile?.append(m)
            reporter?.stepped(m, totalSteps: t.steps)
            if shouldStop() { interrupted = true; break }
            if let out = outDirectory, t.saveEvery > 0, m.step % t.saveEvery == 0, m.step < t.steps {
                try saveCheckpoint(in: out)
            }
        }
        let summary = makeSummary(history, interrupted: interrupted, divergedAt: nil)
        if let out = outDirectory {
            try saveCheckpoint(in: out)
            try writeOutputs(history, in: out, interrupted: interrupted, divergedAt: nil)
            if interrupted { reporter?.note("interrupted at step \(trainer.step): checkpoint saved in \(out.path)") }
        }
        return summary
    }

    /// `summary.json` and `loss.svg` of `history`.
    func writeOutputs(_ history: [StepMetrics], in out: URL, interrupted: Bool, divergedAt: Int?) throws {
        try writeJSON(makeSummary(history, interrupted: interrupted, divergedAt: divergedAt),
                      to: out.appendingPathComponent("summary.json"), keys: RunSummary.keyStyle)
        try writeAtomically(Data(lossPlot(history).svg().utf8), to: out.appendingPathComponent("loss.svg"))
    }

    /// Saves weights, training state and config as the run's checkpoint (`CheckpointRotation`:
    /// written beside the previous one, swapped in only once complete).
    public func saveCheckpoint(in out: URL) throws {
        let state = TrainingState(step: trainer.step, rngs: ["data": trainer.dataRNG], config: recordJSON,
                                  estimatorSpec: assignment.description, optimizerSpec: configuration.optimizer,
                                  optimizerState: optimizer.stateTensors(), optimizerCodes: optimizer.stateCodes(),
                                  estimatorState: TrainingState.estimatorState(of: model))
        let config = try modelConfig.huggingFaceJSON(endOfSequence: tokenizer?.endOfSequence,
                                                     beginOfSequence: tokenizer?.documentPrefix.first)
        try CheckpointRotation(runDirectory: out, name: Self.checkpointFolder).save { directory in
            try NN.saveCheckpoint(model: model, to: directory, trainingState: state, config: config,
                                  nameMap: .huggingFace(modelConfig))
            // The tokenizer travels with the weights, so the folder loads with AutoTokenizer too.
            try tokenizer?.saveHuggingFace(in: directory, modelMaxLength: modelConfig.maxSequenceLength)
        }
        checkpointStep = trainer.step
    }

    /// Rebuilds the session saved in `directory` (its `run.json`) and restores its newest complete
    /// checkpoint, so training continues exactly where it stopped.
    ///
    /// Everything is checked first, and a mismatch throws naming the first difference: the
    /// configuration after `change` against `run.json` (only `RunRecord.resumableKeys` may differ:
    /// `steps` is the new total, at least the checkpoint's step), the data and tokenizer against
    /// their fingerprints, and the checkpoint's own record against `run.json`. The schedule stays
    /// the one fixed at creation; `resumeNotes` says how it continues when `steps` extends it.
    /// - Parameters:
    ///   - steps: the new total (nil keeps the run's).
    ///   - change: applies the other settings the caller was asked for (flags given with `--resume`).
    public static func resume(from directory: URL, steps: Int? = nil, changing change: (inout RunConfiguration) -> Void = { _ in },
                              cacheDirectory: URL = PretrainSession.defaultCacheDirectory,
                              memoryLimit: MemoryLimit? = nil) throws -> PretrainSession {
        let runURL = directory.appendingPathComponent(runFile)
        guard let data = FileManager.default.contents(atPath: runURL.path) else {
            throw RunError("--resume: \(runURL.path) not found (is \(directory.path) the --out folder of a run?)")
        }
        let stored = try decodeRecord(data, source: runURL.path)
        var config = stored.configuration
        if let steps { config.training.steps = steps }
        change(&config)
        if let d = firstJSONDifference(stored.configuration, config, ignoring: RunRecord.resumableKeys) {
            throw ResumeChangeError(difference: d, runFile: runURL.path)
        }
        let session = try PretrainSession(config, cacheDirectory: cacheDirectory, memoryLimit: memoryLimit)
        if let why = session.inputs.difference(from: stored.inputs) {
            throw RunError("--resume: \(why); a resumed run must read what it was trained on")
        }
        let rotation = CheckpointRotation(runDirectory: directory, name: checkpointFolder)
        let recovered: Int?
        do { recovered = try rotation.recover() } catch { throw RunError("--resume: \(error)") }
        guard let step = recovered else {
            throw RunError("--resume: \(directory.path) holds no checkpoint (the run stopped before saving one)")
        }
        let total = config.training.steps
        guard step < total else {
            throw RunError(step == total
                ? "--resume: the run is already at step \(step) of \(total); pass a larger --steps to extend it"
                : "--resume: --steps \(total) is below the checkpoint's step \(step)")
        }
        guard let state = try loadCheckpoint(into: session.model, from: rotation.current, nameMap: .huggingFace(session.modelConfig)) else {
            throw RunError("--resume: \(rotation.current.path) has no training state")
        }
        let saved = try decodeRecord(Data(state.config.utf8), source: "the training state in \(rotation.current.path)")
        if let d = saved.firstDifference(from: stored) {
            throw RunError("--resume: the checkpoint in \(rotation.current.path) belongs to another run: \(d.key) is \(d.stored) there and \(d.requested) in \(runURL.path)")
        }
        if let why = stored.inputs.difference(from: saved.inputs) {
            throw RunError("--resume: the checkpoint in \(rotation.current.path) belongs to another run (\(why))")
        }
        guard state.estimatorSpec == session.assignment.description, state.optimizerSpec == config.optimizer else {
            throw RunError("--resume: the checkpoint in \(rotation.current.path) was trained with estimators '\(state.estimatorSpec)' and optimizer '\(state.optimizerSpec)', not '\(session.assignment.description)' and '\(config.optimizer)'")
        }
        guard let dataRNG = state.rngs["data"] else {
            throw RunError("--resume: the training state in \(rotation.current.path) has no data sampler position")
        }
        try session.optimizer.loadState(state.optimizerState, codes: state.optimizerCodes)
        session.trainer.step = state.step
        session.trainer.dataRNG = dataRNG
        session.checkpointStep = step
        let t = config.training
        if config.threads != stored.configuration.threads {
            session.resumeNotes.append("--threads \(config.threads) differs from the run's \(stored.configuration.threads): the result is reproducible but not bit-identical to an uninterrupted run")
        }
        if total > t.scheduleHorizon {
            let lr = session.trainer.schedule.learningRate(atStep: total - 1)
            session.resumeNotes.append("the learning-rate schedule was fixed when the run was created (warmup \(t.warmup), cosine to \(t.minLearningRateRatio)× of \(t.learningRate) at step \(t.scheduleHorizon)); it is not stretched to the new --steps \(total): past step \(t.scheduleHorizon) it stays at its final value (\(String(format: "%.3g", lr)) at step \(total))")
        }
        return session
    }

    static func decodeRecord(_ data: Data, source: String) throws -> RunRecord {
        let record: RunRecord
        do { record = try JSONDecoder().decode(RunRecord.self, from: data) } catch {
            throw RunError("--resume: \(source) is not a valid run record (\(shortDescription(of: error)))")
        }
        guard record.format == RunRecord.currentFormat else {
            throw RunError("--resume: \(source) has format '\(record.format)', expected '\(RunRecord.currentFormat)'")
        }
        return record
    }

    var recordJSON: String {
        (try? String(decoding: JSONEncoder().encode(record), as: UTF8.self)) ?? "{}"
    }

    func makeSummary(_ history: [StepMetrics], interrupted: Bool, divergedAt: Int?) -> RunSummary {
        let timed = history.count > 1 ? Array(history.dropFirst()) : history
        var peaks: [String: Int] = [:]
        for m in history { peaks.merge(m.peakMemory, uniquingKeysWith: max) }
        let val = history.compactMap { m in m.validationLoss.map { [Float(m.step), $0] } }
        let lastVal = val.last?[1]
        return RunSummary(
            configuration: configuration, modelConfig: modelConfig, parameters: model.parameterCount,
            estimatorAssignment: estimatorReport, optimizer: optimizer.description, steps: history.last?.step ?? trainer.step,
            finalTrainLoss: history.suffix(10).map(\.loss).reduce(0, +) / Float(max(1, min(10, history.count))),
            finalValidationLoss: lastVal, finalValidationPerplexity: lastVal.map { Foundation.exp($0) },
            tokensPerSecondMedian: median(timed.map(\.tokensPerSecond)),
            msPerStepMedian: median(timed.map { $0.msForward + $0.msBackward + $0.msOptimizer }),
            peakMemory: peaks, peakSavedActivationBytes: history.map(\.savedActivationBytes).max() ?? 0,
            peakRSSBytes: processPeakRSS(), interrupted: interrupted, divergedAtStep: divergedAt, validationCurve: val,
            worldSize: trainer.exchange.worldSize > 1 ? trainer.exchange.worldSize : nil,
            exchangeBytesPerStep: meanExchangeBytes(history))
    }

    /// Mean bytes per step by category over the steps that exchanged (nil in one process).
    func meanExchangeBytes(_ history: [StepMetrics]) -> [String: Int]? {
        let steps = history.compactMap(\.exchangeBytes)
        guard !steps.isEmpty else { return nil }
        var sum: [String: Int] = [:]
        for s in steps { sum.merge(s, uniquingKeysWith: +) }
        return sum.mapValues { $0 / steps.count }
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

/// Writes `value` as pretty, key-sorted JSON, atomically; non-finite floats become strings
/// ("nan", "inf") instead of failing the write.
func writeJSON<T: Encodable>(_ value: T, to url: URL, keys: JSONEncoder.KeyEncodingStrategy = .useDefaultKeys) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = keys
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try writeAtomically(try encoder.encode(value), to: url)
}

/// A float for a message: `NaN`, `inf`, `-inf` or its value.
func numberText(_ x: Float) -> String { x.isNaN ? "NaN" : x.isInfinite ? (x > 0 ? "inf" : "-inf") : "\(x)" }

/// The first line of a decoding error, without the coding-path noise.
func shortDescription(of error: Error) -> String {
    if case let DecodingError.keyNotFound(key, _) = error { return "missing field '\(key.stringValue)'" }
    if case let DecodingError.typeMismatch(_, context) = error { return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))" }
    if case let DecodingError.valueNotFound(_, context) = error { return "missing value at \(context.codingPath.map(\.stringValue).joined(separator: "."))" }
    if case DecodingError.dataCorrupted = error { return "not valid JSON" }
    return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
}

/// A resume asked for a setting that must stay the run's (every flag but `--steps` and `--threads`).
public struct ResumeChangeError: Error, CustomStringConvertible {
    public let difference: JSONDifference
    public let runFile: String
    /// The command-line flag of `difference.key`, when the caller knows it.
    public var flag: String?

    public init(difference: JSONDifference, runFile: String, flag: String? = nil) {
        self.difference = difference; self.runFile = runFile; self.flag = flag
    }

    public var description: String {
        let name = flag ?? difference.key
        return "--resume: a resumed run keeps its configuration, but \(name) is \(difference.stored) in \(runFile) and \(difference.requested) now (only --steps and --threads may change)"
    }
}
