import Autograd
import Estimators
import Tensor

/// Drives pretraining of a `LlamaModel`: micro-batches, gradient accumulation, clipping, the
/// learning-rate schedule, the optimizer step, evaluation and per-step measurements.
///
/// Everything random (data windows) comes from `dataRNG`, and estimators and optimizers own
/// their counter-based streams, so a run is reproducible for a given seed and thread count and
/// can be resumed bit for bit from a checkpoint.
public final class Trainer {
    public let model: LlamaModel
    public let optimizer: Optimizer
    public let data: TokenDataset
    public let options: TrainingOptions
    public let schedule: CosineSchedule
    /// Position of the training-data sampler.
    public var dataRNG: RNG
    /// Completed optimizer steps.
    public var step: Int
    /// How this process combines its gradients with other ranks' (identity in one process). Set
    /// before the first step; with R ranks each trains on 1/R of every global batch.
    public var exchange: GradientExchange = SingleProcessExchange()

    private let parameters: [Parameter]

    public init(model: LlamaModel, optimizer: Optimizer, data: TokenDataset, options: TrainingOptions) {
        self.model = model
        self.optimizer = optimizer
        self.data = data
        self.options = options
        schedule = CosineSchedule(peak: options.learningRate, warmup: options.warmup, total: options.scheduleHorizon,
                                  minRatio: options.minLearningRateRatio)
        dataRNG = RNG(seed: options.seed, stream: 0xDA7A)
        step = 0
        parameters = model.parameters.filter(\.requiresGrad)
    }

    /// One optimizer step over `gradAccum` micro-batches. Clipped steps of an optimizer that updates
    /// inside the backward (LOMO, AdaLomo, layer-wise ones) cost a second forward and backward, which
    /// leaves the estimators' state as it found it (counted in the step's time, not in
    /// `msForward`/`msBackward`).
    ///
    /// A step whose gradient norm is not finite is skipped: the gradients are dropped and no update
    /// is applied (`StepMetrics.skipped`). Optimizers that update inside the backward without
    /// clipping measure no norm, so they cannot skip.
    public func trainStep() -> StepMetrics {
        precondition(!optimizer.updatesDuringBackward || options.gradAccum == 1,
                     "Trainer: \(optimizer.description) updates inside the backward and cannot accumulate \(options.gradAccum) micro-batches")
        let lr = schedule.learningRate(atStep: step)
        optimizer.learningRate = lr
        model.train()
        Memory.endStep()
        Memory.resetPeak()
        var lossSum: Float = 0
        var forward = 0.0, backward = 0.0, savedPeak = 0
        let start = monotonicSeconds()
        let scale = 1 / Float(options.gradAccum)
        var gradNorm: Float?
        var skipped = false
        exchange.beginStep()
        // Every rank draws the global batch (the same data RNG) and keeps its rows in rank order.
        let rows = exchange.share(of: options.batch)
        for micro in 0..<options.gradAccum {
            let batch = Self.rows(rows, of: data.batch(size: options.batch, seq: options.seq, split: .train, rng: &dataRNG), seq: options.seq)
            // Saved-tensor rounding is keyed by (seed, step, micro-batch): a measuring pass and a
            // resumed run encode exactly what this forward does.
            Tape.codecNoise = CodecNoiseKey(seed: options.seed, step: UInt64(step), microBatch: UInt64(micro))
            if optimizer.updatesDuringBackward, let fused = optimizer as? FusedBackwardOptimizer, options.clip > 0 {
                // The updates happen during the backward, so the clip factor needs the norm from an
                // extra forward and backward of the same batch first, invisible to the estimators.
                gradNorm = model.preservingEstimatorState {
                    fused.measureGradientNorm(maxNorm: options.clip) {
                        model.loss(tokens: batch.inputs, targets: batch.targets, batch: rows.count, seq: options.seq).backward()
                    }
                }
                if !gradNorm!.isFinite {
                    // The updating backward would apply the non-finite gradient: skip it.
                    lossSum += model.lastCrossEntropy ?? .nan
                    skipped = true
                    continue
                }
            }
            let t0 = monotonicSeconds()
            let loss = model.loss(tokens: batch.inputs, targets: batch.targets, batch: rows.count, seq: options.seq)
            let t1 = monotonicSeconds()
            savedPeak = max(savedPeak, Tape.current.savedBytes)
            lossSum += loss.value.item
            exchange.willRunBackward(isLast: micro == options.gradAccum - 1)
            (options.gradAccum > 1 ? loss * scale : loss).backward()
            backward += monotonicSeconds() - t1
            forward += t1 - t0
        }
        let t2 = monotonicSeconds()
        // Mean gradient over ranks, before the norm, so clipping and the step agree on every rank.
        exchange.exchangeGradients(parameters)
        if !optimizer.updatesDuringBackward {
            gradNorm = options.clip > 0 ? clipGradientNorm(parameters, maxNorm: options.clip) : globalGradientNorm(parameters)
            skipped = !gradNorm!.isFinite
        }
        if !skipped { optimizer.step() }
        optimizer.zeroGrad()
        let end = monotonicSeconds()
        step += 1
        let stats = Memory.stats
        let loss = exchange.meanOverRanks(lossSum / Float(options.gradAccum))
        return StepMetrics(step: step, loss: loss, learningRate: lr,
                           tokensPerSecond: Double(options.tokensPerStep) / (end - start), gradNorm: gradNorm,
                           msForward: forward * 1000, msBackward: backward * 1000, msOptimizer: (end - t2) * 1000,
                           peakMemory: stats.peakByCategory, memoryAtPeak: stats.compositionAtPeak,
                           savedActivationBytes: savedPeak, validationLoss: nil, skipped: skipped ? true : nil,
                           exchangeBytes: exchange.bytesThisStep)
    }

    /// Rows `rows` of a batch of `seq`-token rows (the whole batch in one process).
    static func rows(_ rows: Range<Int>, of batch: TokenDataset.Batch, seq: Int) -> TokenDataset.Batch {
        guard rows.count * seq != batch.inputs.count else { return batch }
        let span = (rows.lowerBound * seq)..<(rows.upperBound * seq)
        return (Array(batch.inputs[span]), Array(batch.targets[span]))
    }

    /// Mean next-token loss over the first `options.evalBatches` validation batches (always the
    /// same windows, so evaluations are comparable across steps and runs).
    public func evaluate() -> Float {
        model.eval()
        defer { model.train() }
        let batches = data.evaluationBatches(size: options.batch, seq: options.seq, split: .validation, maxBatches: options.evalBatches)
        guard !batches.isEmpty else { return .nan }
        // Weighted by counted targets: the last batch may be partial, and instruction examples
        // count only their response tokens.
        var total: Float = 0, targets = 0
        withNoGrad {
            for b in batches {
                let n = b.inputs.count / options.seq
                let counted = b.targets.reduce(0) { $0 + ($1 == crossEntropyIgnoreIndex ? 0 : 1) }
                guard counted > 0 else { continue }
                total += Float(counted) * model.loss(tokens: b.inputs, targets: b.targets, batch: n, seq: options.seq).value.item
                targets += counted
            }
        }
        return targets > 0 ? total / Float(targets) : .nan
    }
}
