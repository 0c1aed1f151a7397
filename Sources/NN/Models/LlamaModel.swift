import Autograd
import Estimators
import Tensor

/// A LLaMA decoder: token embedding, `numLayers` pre-norm transformer blocks (dense SwiGLU or
/// mixture-of-experts MLPs), a final RMSNorm and an untied LM head.
///
/// Parameter paths (declaration order): `embed.weight`, `layers.N.attentionNorm.weight`,
/// `layers.N.attention.{wq,wk,wv,wo}.weight`, `layers.N.mlpNorm.weight`, dense
/// `layers.N.mlp.{gate,up,down}.weight` or MoE `layers.N.mlp.router.weight`,
/// `layers.N.mlp.experts.E.{gate,up,down}.weight`, `layers.N.mlp.shared.{gate,up,down}.weight`;
/// `norm.weight`, `head.weight`.
///
/// Inputs are `batch · seq` token ids in row-major (batch, position) order; every sequence starts at
/// position 0.
public final class LlamaModel: Module {
    /// (vocab, hidden)
    public let embed: Embedding
    public let layers: [TransformerBlock]
    public let norm: RMSNorm
    /// (vocab, hidden), untied from `embed`.
    public let head: Linear

    public let config: LlamaConfig
    /// Rotary tables shared by every attention layer.
    public let rotary: RotaryEmbedding
    /// Wraps every block in `checkpoint(...)`: only block inputs are kept, blocks are recomputed in
    /// the backward (exact gradients, less activation memory).
    public var checkpointBlocks = false
    /// Rows per chunk of the fused head + loss; nil takes `config.defaultLossChunkSize(tokens:)`.
    public var lossChunkSize: Int? = nil
    /// Router statistics of every MoE layer from the last forward (empty for dense models).
    public private(set) var lastRouterStats: [RouterStats] = []
    /// The cross-entropy part of the last `loss(...)`.
    public private(set) var lastCrossEntropy: Float?
    /// The mean load-balancing loss over MoE layers of the last `loss(...)` (before the coefficient).
    public private(set) var lastBalanceLoss: Float?

    /// Targets with this value are skipped by `loss`.
    public static let ignoreIndex: Int32 = crossEntropyIgnoreIndex

    /// Builds the model with every weight N(0, initStd²) and norm scales 1, drawn from `rng` in
    /// parameter order. `config` must be valid (`LlamaConfig.validate()`).
    public init(config: LlamaConfig, rng: inout RNG) {
        do { try config.validate() } catch { preconditionFailure("LlamaModel: \(error)") }
        self.config = config
        let d = config.hiddenSize, std = config.initStd
        rotary = RotaryEmbedding(headDim: config.headDim, maxPositions: config.maxSequenceLength, theta: config.ropeTheta)
        embed = Embedding(vocabSize: config.vocabSize, dim: d, std: std, rng: &rng)
        var blocks: [TransformerBlock] = []
        for i in 0..<config.numLayers {
            let attention = CausalSelfAttention(dim: d, heads: config.numHeads, kvHeads: config.numKeyValueHeads,
                                                rotary: rotary, std: std, rng: &rng)
            let mlp: any FeedForwardLayer
            if let moe = config.moe {
                let experts = MixtureOfExperts(dim: d, hidden: moe.expertIntermediateSize ?? config.intermediateSize,
                                               experts: moe.experts, topK: moe.topK, sharedExpert: moe.sharedExpert,
                                               std: std, rng: &rng)
                experts.statsPath = "layers.\(i).mlp"
                mlp = experts
            } else {
                mlp = SwiGLUMLP(dim: d, hidden: config.intermediateSize, std: std, rng: &rng)
            }
            blocks.append(TransformerBlock(attentionNorm: RMSNorm(dim: d, eps: config.rmsNormEps), attention: attention,
                                           mlpNorm: RMSNorm(dim: d, eps: config.rmsNormEps), mlp: mlp))
        }
        layers = blocks
        norm = RMSNorm(dim: d, eps: config.rmsNormEps)
        head = Linear(d, config.vocabSize, std: std, rng: &rng)
        super.init()
        _ = namedParameters() // sets every parameter's `name` to its path
    }

    /// Final hidden states (after `norm`).
    /// - Parameter tokens: batch · seq ids. - Returns: (batch · seq, hidden).
    public func hidden(tokens: [Int32], batch: Int, seq: Int) -> Variable {
        forwardHidden(tokens: tokens, batch: batch, seq: seq).hidden
    }

    /// Logits for sampling and for evaluating small batches (materialises (B·S, vocab); training
    /// should call `loss`, which never does).
    /// - Returns: (batch, seq, vocab)
    public func logits(tokens: [Int32], batch: Int, seq: Int) -> Variable {
        let h = hidden(tokens: tokens, batch: batch, seq: seq)
        return Tape.current.withLabel("head") { head(h) }.reshaped([batch, seq, config.vocabSize])
    }

    /// Mean next-token cross-entropy over the targets that are not `ignoreIndex`, plus (in training
    /// mode, for MoE models) `balanceCoefficient ×` the mean load-balancing loss of the MoE layers.
    /// In eval mode the result is the cross-entropy alone, so validation losses compare across models.
    ///
    /// The head projection is fused with the loss and chunked over tokens (`linearCrossEntropy`) unless
    /// the head has a non-exact estimator, which needs the full logit gradient.
    /// - Parameters:
    ///   - tokens: batch · seq input ids
    ///   - targets: batch · seq ids, `targets[i]` the token that follows `tokens[i]`, or `ignoreIndex`
    /// - Returns: a scalar
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, seq: Int) -> Variable {
        precondition(targets.count == tokens.count, "LlamaModel.loss: \(targets.count) targets for \(tokens.count) tokens")
        let (h, auxiliary) = forwardHidden(tokens: tokens, batch: batch, seq: seq)
        let ce = Tape.current.withLabel("head") { () -> Variable in
            if head.estimator is ExactEstimator {
                return linearCrossEntropy(h, weight: head.weight.variable, targets: targets,
                                          chunkSize: lossChunkSize ?? config.defaultLossChunkSize(tokens: tokens.count))
            }
            return crossEntropy(head(h), targets: targets)
        }
        lastCrossEntropy = ce.value.item
        guard let moe = config.moe, !auxiliary.isEmpty else { lastBalanceLoss = nil; return ce }
        var total = auxiliary[0]
        for a in auxiliary.dropFirst() { total = total + a }
        let balance = total * (1 / Float(auxiliary.count))
        lastBalanceLoss = balance.value.item
        guard isTraining, moe.balanceCoefficient > 0 else { return ce }
        return ce + balance * moe.balanceCoefficient
    }

    /// The MoE layers, in layer order (empty for dense models).
    public var moeLayers: [MixtureOfExperts] { layers.compactMap { $0.mlp as? MixtureOfExperts } }

    /// - Returns: final hidden states (B·S, hidden) and each block's auxiliary loss.
    func forwardHidden(tokens: [Int32], batch: Int, seq: Int) -> (hidden: Variable, auxiliary: [Variable]) {
        precondition(batch > 0 && seq > 0 && tokens.count == batch * seq,
                     "LlamaModel: \(tokens.count) tokens are not batch \(batch) × seq \(seq)")
        precondition(seq <= config.maxSequenceLength,
                     "LlamaModel: sequence length \(seq) exceeds maxSequenceLength \(config.maxSequenceLength)")
        let tape = Tape.current
        var h = tape.withLabel("embed") { embed(tokens) }
        var auxiliary: [Variable] = []
        for (i, block) in layers.enumerated() {
            let (out, aux) = tape.withLabel("layers.\(i)") {
                checkpointBlocks && tape.isRecording ? checkpointed(block, h, batch: batch, seq: seq)
                                                      : block.forward(h, batch: batch, seq: seq)
            }
            h = out
            if let aux { auxiliary.append(aux) }
        }
        h = tape.withLabel("norm") { norm(h) }
        lastRouterStats = moeLayers.compactMap(\.lastStats)
        return (h, auxiliary)
    }

    /// One block as a checkpointed segment. A segment has one output, so an MoE block's auxiliary
    /// loss travels packed behind the flattened hidden states and is sliced off afterwards.
    private func checkpointed(_ block: TransformerBlock, _ x: Variable, batch: Int, seq: Int) -> (Variable, Variable?) {
        guard block.mlp is MixtureOfExperts else {
            return (checkpoint([x]) { block.forward($0[0], batch: batch, seq: seq).output }, nil)
        }
        let n = x.count, shape = x.shape
        let packed = checkpoint([x]) { inputs in
            let (out, aux) = block.forward(inputs[0], batch: batch, seq: seq)
            return Variable.concatenate([out.reshaped([n]), aux!.reshaped([1])], axis: 0)
        }
        return (packed.sliced(axis: 0, 0..<n).reshaped(shape), packed.sliced(axis: 0, n..<n + 1).reshaped([]))
    }
}

extension LlamaConfig {
    /// The loss chunk for `tokens` rows, sized from a workspace budget: its logits (rows × vocab
    /// floats, the largest workspace of a step) get at most a ninth of an estimate of the rest of a
    /// lean step — the weights, the largest gradient in flight (vocab × hidden) and 6 floats of saved
    /// activations per token, layer and hidden unit — so the chunk stays near 10% of the step's peak
    /// even when layer-wise updates, 8-bit states and compressed activations shrink the rest (and
    /// far below it for exact training). A multiple of 32 in 32...1024: 128 rows for LLaMA-20M at
    /// 8 × 256 (16 MiB instead of 1024 rows' 125 MiB), 1024 for LLaMA-130M at 4 × 1024. Smaller
    /// chunks cost speed: the head's sgemms get thinner and its weight gradient is read and written
    /// once per chunk (docs/MEMORY.md has the measured cost).
    public func defaultLossChunkSize(tokens: Int) -> Int {
        let weights = 4 * parameterCount, gradient = 4 * vocabSize * hiddenSize
        let activations = 4 * 6 * tokens * numLayers * hiddenSize
        let rows = (weights + gradient + activations) / 9 / Swift.max(4 * vocabSize, 1)
        return Swift.min(1024, Swift.max(32, rows / 32 * 32))
    }
}
