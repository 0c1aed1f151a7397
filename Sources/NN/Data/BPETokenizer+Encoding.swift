extension BPETokenizer {
    /// Token ids for `text` (no document prefix or end-of-sequence token: see ``encodeDocument(_:)``).
    /// Identical to Hugging Face `tokenizers`' `encode(text, add_special_tokens=False).ids` for the
    /// same `tokenizer.json`.
    public func encode(_ text: String) -> [Int32] {
        usesByteScanner ? encode(bytes: Array(text.utf8)) : encodeText(text)
    }

    /// Token ids for arbitrary bytes; `decodeBytes(encode(bytes: b)) == b` for every `b` with a
    /// Sketchgrad tokenizer. An imported tokenizer works on text, so invalid UTF-8 in `bytes`
    /// becomes U+FFFD first.
    public func encode(bytes: [UInt8]) -> [Int32] {
        guard usesByteScanner else { return encodeText(String(decoding: bytes, as: UTF8.self)) }
        var encoder = ChunkEncoder(tokenizer: self, expectedBytes: bytes.count)
        let splitter = AddedTokenSplitter(addedTokens.map { (Array($0.content.utf8), $0) })
        splitter.split(bytes, gap: { gap in
            let piece = Array(gap)
            piece.withUnsafeBufferPointer { buffer in
                PreTokenizer.forEachChunk(in: buffer) { encoder.add(UnsafeBufferPointer(rebasing: buffer[$0])) }
            }
        }, match: { encoder.ids.append($0) })
        return encoder.ids
    }

    /// `documentPrefix + encode(text) + [endOfSequence]`: one document of a training stream.
    public func encodeDocument(_ text: String) -> [Int32] {
        documentPrefix + encode(text) + (endOfSequence.map { [$0] } ?? [])
    }

    /// Sketchgrad's own pipeline with plain added tokens: the byte scanner handles everything.
    var usesByteScanner: Bool {
        pipeline.isNative && addedTokens.allSatisfy { !$0.lstrip && !$0.rstrip && !$0.singleWord && !$0.normalized }
    }

    /// Hugging Face's order: added tokens out of the raw text, normalization, normalized added
    /// tokens, pre-tokenization, BPE per chunk.
    private func encodeText(_ text: String) -> [Int32] {
        var encoder = ChunkEncoder(tokenizer: self, expectedBytes: text.utf8.count)
        let raw = addedTokens.filter { !$0.normalized }
        let normalized = addedTokens.filter(\.normalized)
        let rawSplitter = AddedTokenSplitter(raw.map { (Array($0.content.unicodeScalars), $0) })
        let normalizedSplitter = AddedTokenSplitter(normalized.map {
            (Array(pipeline.normalize($0.content).unicodeScalars), $0)
        })
        let scalars = Array(text.unicodeScalars)
        rawSplitter.split(scalars, adjust: AddedTokenSplitter.adjust(scalars), gap: { gap in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: gap)
            let piece = Array(pipeline.normalize(String(view)).unicodeScalars)
            normalizedSplitter.split(piece, adjust: AddedTokenSplitter.adjust(piece), gap: { inner in
                pipeline.chunks(Array(inner)) { chunk in
                    chunk.withUnsafeBufferPointer { encoder.add($0) }
                }
            }, match: { encoder.ids.append($0) })
        }, match: { encoder.ids.append($0) })
        return encoder.ids
    }

    /// Collects the ids of consecutive chunks. Natural text repeats a few thousand chunks ("the",
    /// " and") over and over, so each distinct chunk is encoded once; the cap bounds memory on text
    /// with little repetition.
    private struct ChunkEncoder {
        let tokenizer: BPETokenizer
        var ids: [Int32] = []
        private var cache = [[UInt8]: [Int32]]()
        private static let cacheLimit = 1 << 20

        init(tokenizer: BPETokenizer, expectedBytes: Int) {
            self.tokenizer = tokenizer
            // Typical English text compresses to a token per ~4 bytes.
            ids.reserveCapacity(expectedBytes / 3 + 16)
        }

        mutating func add(_ chunk: UnsafeBufferPointer<UInt8>) {
            if chunk.count == 1 {
                ids.append(tokenizer.byteTokens[Int(chunk[0])])
                return
            }
            let key = Array(chunk)
            if let cached = cache[key] {
                ids.append(contentsOf: cached)
                return
            }
            let encoded = tokenizer.wholeChunks?[key].map { [$0] } ?? tokenizer.encodeChunk(chunk)
            if cache.count < Self.cacheLimit { cache[key] = encoded }
            ids.append(contentsOf: encoded)
        }
    }

    /// Applies merges to one chunk, always the lowest-ranked adjacent pair first (leftmost on ties),
    /// the order in which training learned them — Hugging Face's `Word::merge_all`, including its
    /// test for a stale candidate (the pair now at its position must create the same token).
    ///
    /// Symbols live in a doubly linked list over positions and candidate pairs in a min-heap of
    /// (rank, position); entries made stale by an earlier merge are skipped when popped. This is
    /// O(n log n) per chunk, so long chunks (a paragraph of CJK text) stay cheap.
    func encodeChunk(_ chunk: UnsafeBufferPointer<UInt8>) -> [Int32] {
        let n = chunk.count
        var symbols = chunk.map { byteTokens[Int($0)] }
        var next = Array(1...n)            // n = no next symbol
        var previous = Array(-1..<(n - 1)) // -1 = no previous symbol
        let removed: Int32 = -1

        var candidates = [RankedPosition]()
        for i in 0..<(n - 1) {
            if let entry = mergeTable[Merge.key(symbols[i], symbols[i + 1])] {
                candidates.append(RankedPosition(rank: entry.rank, position: Int32(i), result: entry.result))
            }
        }
        var heap = Heap(candidates)

        while let candidate = heap.pop() {
            let i = Int(candidate.position)
            let j = next[i]
            guard symbols[i] != removed, j < n,
                  mergeTable[Merge.key(symbols[i], symbols[j])]?.result == candidate.result else { continue }
            symbols[i] = candidate.result
            symbols[j] = removed
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            let p = previous[i]
            if p >= 0, let entry = mergeTable[Merge.key(symbols[p], symbols[i])] {
                heap.push(RankedPosition(rank: entry.rank, position: Int32(p), result: entry.result))
            }
            if next[i] < n, let entry = mergeTable[Merge.key(symbols[i], symbols[next[i]])] {
                heap.push(RankedPosition(rank: entry.rank, position: Int32(i), result: entry.result))
            }
        }

        var result = [Int32]()
        var i = 0
        while i < n {
            result.append(symbols[i])
            i = next[i]
        }
        return result
    }

    /// A candidate merge inside a chunk, ordered by rank and then by position (leftmost first).
    struct RankedPosition: Comparable {
        var rank: Int32
        var position: Int32
        var result: Int32

        static func < (a: RankedPosition, b: RankedPosition) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.position < b.position
        }
    }
}
