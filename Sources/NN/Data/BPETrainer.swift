extension BPETokenizer {
    /// Learns merges on the UTF-8 bytes of `text`; see ``train(bytes:vocabSize:minPairCount:specialTokens:)``.
    public static func train(text: String, vocabSize: Int, minPairCount: Int = 1,
                             specialTokens: [String] = []) -> BPETokenizer {
        train(bytes: Array(text.utf8), vocabSize: vocabSize, minPairCount: minPairCount, specialTokens: specialTokens)
    }

    /// Learns merges on `bytes` until the vocabulary, with `specialTokens` after the learned
    /// tokens, holds `vocabSize` tokens.
    ///
    /// Each step merges the most frequent adjacent pair (ties: the smallest `(left, right)`), so
    /// the result is deterministic. A merge whose bytes already form a token reuses that token (as
    /// Hugging Face's trainer does), so every token has distinct bytes and the vocabulary can be
    /// written as a `tokenizer.json`. Training stops early, with a smaller ``vocabSize``, when no
    /// pair occurs at least `minPairCount` times (e.g. every chunk is already a single token).
    /// Special tokens never occur inside the training text's chunks: they are cut out first.
    /// - Parameters:
    ///   - vocabSize: target size, at least 256 (the byte tokens) plus the special tokens.
    ///   - minPairCount: the least number of occurrences for a pair to be merged.
    public static func train(bytes: [UInt8], vocabSize: Int, minPairCount: Int = 1,
                             specialTokens: [String] = []) -> BPETokenizer {
        precondition(vocabSize >= byteTokenCount + specialTokens.count,
                     "BPETokenizer.train: vocabSize \(vocabSize) is below the \(byteTokenCount) byte tokens + \(specialTokens.count) special tokens")
        precondition(minPairCount >= 1, "BPETokenizer.train: minPairCount \(minPairCount) must be at least 1")
        var trainer = BPETrainer(bytes: bytes, specialTokens: specialTokens)
        let merges = trainer.learn(tokenCount: vocabSize - specialTokens.count, minPairCount: minPairCount)
        return BPETokenizer(merges: merges, specialTokens: specialTokens)
    }
}

/// A pair and its count when pushed on the heap; "smaller" means "merge first".
private struct PairPriority: Comparable {
    var count: Int
    var key: UInt64

    static func < (a: PairPriority, b: PairPriority) -> Bool {
        a.count != b.count ? a.count > b.count : a.key < b.key
    }
}

/// The incremental BPE training state.
///
/// Training works on distinct chunks ("words") weighted by how often they occur, not on the text:
/// a few tens of thousands of words stand for megabytes. Pair counts live in a dictionary, and an
/// index maps each pair to the words where it was created, so a merge rewrites only those words.
/// The best pair comes from a heap with lazy invalidation: an entry whose count is out of date is
/// pushed back with its current count when popped. That is exact because, after a merge, only
/// pairs containing the new token can gain occurrences, and those are pushed afresh.
private struct BPETrainer {
    /// The symbols of each distinct chunk.
    private var words: [[Int32]] = []
    /// How often each distinct chunk occurs in the text.
    private var wordCounts: [Int] = []
    /// Occurrences of each adjacent pair, weighted by word counts.
    private var pairCounts: [UInt64: Int] = [:]
    /// For each pair, the words where it was created (possibly repeated or since merged away).
    private var wordsWithPair: [UInt64: [Int32]] = [:]

    init(bytes: [UInt8], specialTokens: [String]) {
        var wordIndex = [[UInt8]: Int]()
        let splitter = AddedTokenSplitter(specialTokens.map { (Array($0.utf8), BPETokenizer.AddedToken(id: 0, content: $0)) })
        splitter.split(bytes, gap: { gap in
            Array(gap).withUnsafeBufferPointer { buffer in
                PreTokenizer.forEachChunk(in: buffer) { range in
                    // A single byte has no pair to merge.
                    guard range.count > 1 else { return }
                    let chunk = Array(UnsafeBufferPointer(rebasing: buffer[range]))
                    if let w = wordIndex[chunk] {
                        wordCounts[w] += 1
                    } else {
                        wordIndex[chunk] = words.count
                        words.append(chunk.map { Int32($0) })
                        wordCounts.append(1)
                    }
                }
            }
        }, match: { _ in })
        for (w, symbols) in words.enumerated() {
            for i in 0..<(symbols.count - 1) {
                let key = BPETokenizer.Merge.key(symbols[i], symbols[i + 1])
                pairCounts[key, default: 0] += wordCounts[w]
                wordsWithPair[key, default: []].append(Int32(w))
            }
        }
    }

    /// Merges until there are `tokenCount` tokens (or no pair occurs `minPairCount` times).
    mutating func learn(tokenCount: Int, minPairCount: Int) -> [BPETokenizer.Merge] {
        var heap = BPETokenizer.Heap(pairCounts.map { PairPriority(count: $0.value, key: $0.key) })
        var merges = [BPETokenizer.Merge]()
        merges.reserveCapacity(tokenCount - BPETokenizer.byteTokenCount)
        var tokenBytes = (0..<BPETokenizer.byteTokenCount).map { [UInt8(truncatingIfNeeded: $0)] }
        var tokenOfBytes = [[UInt8]: Int32]()
        // The merge that last rewrote each word, so a word listed twice is rewritten once.
        var lastMerge = [Int](repeating: -1, count: words.count)

        while tokenBytes.count < tokenCount, let top = heap.pop() {
            let count = pairCounts[top.key] ?? 0
            if count != top.count {
                if count > 0 { heap.push(PairPriority(count: count, key: top.key)) }
                continue
            }
            // The top is current, so it is the most frequent pair: if it is too rare, so is every other.
            guard count >= minPairCount else { break }

            let left = Int32(top.key >> 32), right = Int32(truncatingIfNeeded: top.key)
            let bytes = tokenBytes[Int(left)] + tokenBytes[Int(right)]
            let newToken: Int32
            if let existing = tokenOfBytes[bytes] {
                newToken = existing
            } else {
                newToken = Int32(tokenBytes.count)
                tokenBytes.append(bytes)
                tokenOfBytes[bytes] = newToken
            }
            let merge = BPETokenizer.Merge(left: left, right: right, result: newToken)
            merges.append(merge)
            var grownPairs = Set<UInt64>()
            for w in wordsWithPair.removeValue(forKey: top.key) ?? [] where lastMerge[Int(w)] != merges.count {
                lastMerge[Int(w)] = merges.count
                apply(merge, as: newToken, toWord: Int(w), grownPairs: &grownPairs)
            }
            pairCounts[top.key] = nil
            for key in grownPairs {
                heap.push(PairPriority(count: pairCounts[key]!, key: key))
            }
        }
        return merges
    }

    /// Replaces every occurrence of `merge` in word `w` (left to right, non-overlapping) by
    /// `newToken` and updates the counts of the pairs around each occurrence; records in
    /// `grownPairs` the new pairs, which all contain `newToken`.
    ///
    /// Around an occurrence `p A B n` becoming `p Z n`: (p, A) and (B, n) lose one occurrence,
    /// (p, Z) and (Z, n) gain one; (A, B) itself is dropped by the caller. When the next
    /// occurrence starts right at `n` (as in `A B A B`), the pair between them is handled by that
    /// next occurrence, as its left side, so it is counted once.
    private mutating func apply(_ merge: BPETokenizer.Merge, as newToken: Int32, toWord w: Int,
                                grownPairs: inout Set<UInt64>) {
        let old = words[w]
        let weight = wordCounts[w]
        let (a, b) = (merge.left, merge.right)
        // The index also lists words where the pair no longer occurs: leave those untouched.
        guard let first = (0..<(old.count - 1)).first(where: { old[$0] == a && old[$0 + 1] == b }) else { return }
        var new = Array(old[0..<first])
        new.reserveCapacity(old.count - 1)
        var i = first
        while i < old.count {
            guard i + 1 < old.count, old[i] == a, old[i + 1] == b else {
                new.append(old[i])
                i += 1
                continue
            }
            if i > 0 {
                pairCounts[BPETokenizer.Merge.key(old[i - 1], a), default: 0] -= weight
                gain(BPETokenizer.Merge.key(new[new.count - 1], newToken), weight, w, &grownPairs)
            }
            let n = i + 2
            if n < old.count, !(n + 1 < old.count && old[n] == a && old[n + 1] == b) {
                pairCounts[BPETokenizer.Merge.key(b, old[n]), default: 0] -= weight
                gain(BPETokenizer.Merge.key(newToken, old[n]), weight, w, &grownPairs)
            }
            new.append(newToken)
            i += 2
        }
        words[w] = new
    }

    private mutating func gain(_ key: UInt64, _ weight: Int, _ w: Int, _ grownPairs: inout Set<UInt64>) {
        pairCounts[key, default: 0] += weight
        grownPairs.insert(key)
        wordsWithPair[key, default: []].append(Int32(w))
    }
}
