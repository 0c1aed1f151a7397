import Tensor

/// A token stream split into training and validation parts, cut into windows for language-model
/// training: each window is `seq` input tokens and the same tokens shifted by one as targets.
///
/// Random training batches draw from a `Tensor.RNG`, whose three numbers can be saved in a
/// checkpoint so that a resumed run sees the same data. Evaluation batches are fixed consecutive
/// windows, the same at every evaluation.
public struct TokenDataset: Sendable {
    /// Which part of the data: the training windows or the held-out validation windows.
    public enum Split: String, Sendable, CaseIterable {
        case train, validation
    }

    /// Row-major `[rows, seq]` inputs and targets: `targets[r, t]` is the token that follows
    /// `inputs[r, t]` in the stream.
    public typealias Batch = (inputs: [Int32], targets: [Int32])

    /// Names the data in error messages (a file path, or "tokens").
    public let source: String
    /// The tokens that training windows are cut from.
    public let trainTokens: [Int32]
    /// The held-out tokens, disjoint from ``trainTokens``.
    public let validationTokens: [Int32]

    /// Splits one stream: the last `validationFraction` of the tokens (rounded) become the
    /// validation split, so no window of one split overlaps the other.
    public init(tokens: [Int32], validationFraction: Double = 0.05, source: String = "tokens") {
        precondition((0..<1).contains(validationFraction),
                     "TokenDataset: validationFraction \(validationFraction) must be in [0, 1)")
        let validationCount = Int((Double(tokens.count) * validationFraction).rounded())
        let boundary = tokens.count - validationCount
        self.init(train: Array(tokens[..<boundary]), validation: Array(tokens[boundary...]), source: source)
    }

    /// Uses separate streams for the two splits (e.g. from two files).
    public init(train: [Int32], validation: [Int32], source: String = "tokens") {
        self.source = source
        self.trainTokens = train
        self.validationTokens = validation
    }

    /// The tokens of `split`.
    public func tokens(_ split: Split) -> [Int32] {
        switch split {
        case .train: return trainTokens
        case .validation: return validationTokens
        }
    }

    /// Checks that each of `splits` holds at least one window of length `seq`; call it once before
    /// sampling, since ``batch(size:seq:split:rng:)`` treats a too-short split as a programming error.
    /// - Throws: `DataError.tooShort` naming the source and split.
    public func validate(seq: Int, splits: [Split] = Split.allCases) throws {
        precondition(seq > 0, "TokenDataset: seq \(seq) must be positive")
        for split in splits where tokens(split).count < seq + 1 {
            throw DataError.tooShort(source: source, split: split.rawValue,
                                     tokens: tokens(split).count, sequenceLength: seq)
        }
    }

    /// `size` windows starting at uniform random positions of `split`, drawn from `rng` (which
    /// advances by `size`). The same `rng` state always gives the same batch.
    public func batch(size: Int, seq: Int, split: Split = .train, rng: inout RNG) -> Batch {
        let stream = tokens(split)
        precondition(size > 0 && seq > 0, "TokenDataset.batch: size \(size) and seq \(seq) must be positive")
        precondition(stream.count > seq,
                     "TokenDataset.batch: the \(split) split has \(stream.count) tokens, fewer than seq + 1 = \(seq + 1)")
        var batch: Batch = ([], [])
        batch.inputs.reserveCapacity(size * seq)
        batch.targets.reserveCapacity(size * seq)
        for _ in 0..<size {
            let start = rng.nextInt(below: stream.count - seq)
            batch.inputs += stream[start..<(start + seq)]
            batch.targets += stream[(start + 1)...(start + seq)]
        }
        return batch
    }

    /// Number of windows that ``evaluationBatches(size:seq:split:maxBatches:)`` walks: consecutive,
    /// non-overlapping windows from the start of `split`.
    public func evaluationWindowCount(seq: Int, split: Split = .validation) -> Int {
        precondition(seq > 0, "TokenDataset: seq \(seq) must be positive")
        return max(tokens(split).count - 1, 0) / seq
    }

    /// The consecutive windows of `split` grouped in batches of `size` rows (the last batch may
    /// have fewer), at most `maxBatches` batches. Deterministic: every call yields the same batches.
    public func evaluationBatches(size: Int, seq: Int, split: Split = .validation,
                                  maxBatches: Int? = nil) -> [Batch] {
        precondition(size > 0, "TokenDataset.evaluationBatches: size \(size) must be positive")
        let stream = tokens(split)
        let windows = evaluationWindowCount(seq: seq, split: split)
        var batchCount = (windows + size - 1) / size
        if let maxBatches { batchCount = min(batchCount, maxBatches) }
        return (0..<batchCount).map { b in
            var batch: Batch = ([], [])
            for window in (b * size)..<min((b + 1) * size, windows) {
                let start = window * seq
                batch.inputs += stream[start..<(start + seq)]
                batch.targets += stream[(start + 1)...(start + seq)]
            }
            return batch
        }
    }
}
