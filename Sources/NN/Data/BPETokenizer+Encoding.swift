extension BPETokenizer {
    /// Token ids for the UTF-8 bytes of `text`.
    public func encode(_ text: String) -> [Int32] {
        encode(bytes: Array(text.utf8))
    }

    /// Token ids for arbitrary bytes; `decodeBytes(encode(bytes: b)) == b` for every `b`.
    public func encode(bytes: [UInt8]) -> [Int32] {
        var ids = [Int32]()
        // Typical English text compresses to a token per ~4 bytes.
        ids.reserveCapacity(bytes.count / 3 + 16)
        // Natural text repeats a few thousand chunks ("the", " and") over and over: encode each
        // distinct chunk once. The cap bounds memory on text with little repetition.
        var cache = [[UInt8]: [Int32]]()
        let cacheLimit = 1 << 20
        bytes.withUnsafeBufferPointer { buffer in
            PreTokenizer.forEachChunk(in: buffer) { range in
                if range.count == 1 {
                    ids.append(Int32(buffer[range.lowerBound]))
                    return
                }
                let chunk = UnsafeBufferPointer(rebasing: buffer[range])
                let key = Array(chunk)
                if let cached = cache[key] {
                    ids.append(contentsOf: cached)
                    return
                }
                let encoded = encodeChunk(chunk)
                if cache.count < cacheLimit { cache[key] = encoded }
                ids.append(contentsOf: encoded)
            }
        }
        return ids
    }

    /// Applies merges to one chunk, always the lowest-ranked adjacent pair first (leftmost on ties),
    /// the order in which training learned them.
    ///
    /// Symbols live in a doubly linked list over positions and candidate pairs in a min-heap of
    /// (rank, position); entries made stale by an earlier merge are skipped when popped. This is
    /// O(n log n) per chunk, so long chunks (a paragraph of CJK text) stay cheap.
    func encodeChunk(_ chunk: UnsafeBufferPointer<UInt8>) -> [Int32] {
        let n = chunk.count
        var symbols = chunk.map { Int32($0) }
        var next = Array(1...n)            // n = no next symbol
        var previous = Array(-1..<(n - 1)) // -1 = no previous symbol
        let removed: Int32 = -1

        var candidates = [RankedPosition]()
        for i in 0..<(n - 1) {
            if let rank = ranks[Merge.key(symbols[i], symbols[i + 1])] {
                candidates.append(RankedPosition(rank: rank, position: Int32(i)))
            }
        }
        var heap = Heap(candidates)

        while let candidate = heap.pop() {
            let i = Int(candidate.position)
            let j = next[i]
            let merge = merges[Int(candidate.rank)]
            guard symbols[i] == merge.left, j < n, symbols[j] == merge.right else { continue }
            symbols[i] = Int32(Self.byteTokenCount) + candidate.rank
            symbols[j] = removed
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            let p = previous[i]
            if p >= 0, let rank = ranks[Merge.key(symbols[p], symbols[i])] {
                heap.push(RankedPosition(rank: rank, position: Int32(p)))
            }
            if next[i] < n, let rank = ranks[Merge.key(symbols[i], symbols[next[i]])] {
                heap.push(RankedPosition(rank: rank, position: Int32(i)))
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

        static func < (a: RankedPosition, b: RankedPosition) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.position < b.position
        }
    }
}
