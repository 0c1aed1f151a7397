import Tensor

/// Training and validation data for language-model training, in one of two forms:
///
/// - a token stream, cut into windows: each window is `seq` input tokens and the same tokens
///   shifted by one as targets;
/// - examples (instruction tuning): one example per row, its tokens truncated to `seq + 1` and
///   the row padded; only targets from `promptLength` on are learned, the prompt's and the
///   padding's are `crossEntropyIgnoreIndex` (-100).
///
/// Random training batches draw from a `Tensor.RNG`, whose three numbers can be saved in a
/// checkpoint so that a resumed run sees the same data. Evaluation batches are fixed consecutive
/// windows (or examples), the same at every evaluation.
public struct TokenDataset: Sendable {
    /// One instruction example: prompt and response tokens; the loss covers `tokens[promptLength...]`.
    public struct Example: Sendable, Equatable {
        public var tokens: [Int32]
        public var promptLength: Int

        public init(tokens: [Int32], promptLength: Int) {
            precondition((0...tokens.count).contains(promptLength), "TokenDataset.Example: prompt length \(promptLength) of \(tokens.count) tokens")
            self.tokens = tokens
            self.promptLength = promptLength
        }
    }

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
    /// The examples of each split in example form (then ``trainTokens`` and ``validationTokens``
    /// are their concatenations), nil for a stream.
    public let trainExamples: [Example]?
    public let validationExamples: [Example]?

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
        trainExamples = nil
        validationExamples = nil
    }

    /// Example form, with separate examples for the two splits.
    public init(trainExamples: [Example], validationExamples: [Example], source: String = "examples") {
        self.source = source
        self.trainExamples = trainExamples
        self.validationExamples = validationExamples
        trainTokens = trainExamples.flatMap(\.tokens)
        validationTokens = validationExamples.flatMap(\.tokens)
    }

    /// Example form: the last `validationFraction` of the examples (rounded) are held out.
    public init(examples: [Example], validationFraction: Double = 0.05, source: String = "examples") {
        precondition((0..<1).contains(validationFraction),
                     "TokenDataset: validationFraction \(validationFraction) must be in [0, 1)")
        let boundary = examples.count - Int((Double(examples.count) * validationFraction).rounded())
        self.init(trainExamples: Array(examples[..<boundary]), validationExamples: Array(examples[boundary...]), source: source)
    }

    /// The examples of `split`, nil for a stream.
    public func examples(_ split: Split) -> [Example]? {
        switch split {
        case .train: return trainExamples
        case .validation: return validationExamples
        }
    }

    /// One row of example form: inputs `tokens[0..<seq]` and targets `tokens[1...seq]`, both padded
    /// to `seq`, with the prompt's and the padding's targets ignored.
    static func row(_ example: Example, seq: Int, into batch: inout Batch) {
        let t = example.tokens
        for i in 0..<seq {
            batch.inputs.append(i < t.count ? t[i] : 0)
            batch.targets.append(i + 1 < t.count && i + 1 >= example.promptLength ? t[i + 1] : crossEntropyIgnoreIndex)
        }
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
        if trainExamples != nil {
            for split in splits where examples(split)!.isEmpty {
                throw DataError.noExamples(source: source, split: split.rawValue)
            }
            return
        }
        for split in splits where tokens(split).count < seq + 1 {
            throw DataError.tooShort(source: source, split: split.rawValue,
                                     tokens: tokens(split).count, sequenceLength: seq)
        }
    }

    /// `size` windows starting at uniform random positions of `split`, drawn from `rng` (which
    /// advances by `size`). The same `rng` state always gives the same batch.
    public func batch(size: Int, seq: Int, split: Split = .train, rng: inout RNG) -> Batch {
        precondition(size > 0 && seq > 0, "TokenDataset.batch: size \(size) and seq \(seq) must be positive")
        if let examples = examples(split) {
            precondition(!examples.isEmpty, "TokenDataset.batch: the \(split) split has no examples")
            var batch: Batch = ([], [])
            for _ in 0..<size { Self.row(examples[rng.nextInt(below: examples.count)], seq: seq, into: &batch) }
            return batch
        }
        let stream = tokens(split)
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
    /// non-overlapping windows from the start of `split` (in example form: its examples).
    public func evaluationWindowCount(seq: Int, split: Split = .validation) -> Int {
        precondition(seq > 0, "TokenDataset: seq \(seq) must be positive")
        if let examples = examples(split) { return examples.count }
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
                if let examples = examples(split) {
                    Self.row(examples[window], seq: seq, into: &batch)
                    continue
                }
                let start = window * seq
                batch.inputs += stream[start..<(start + seq)]
                batch.targets += stream[(start + 1)...(start + seq)]
            }
            return batch
        }
    }
}
