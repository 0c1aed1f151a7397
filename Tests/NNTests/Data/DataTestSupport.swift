@testable import NN

/// Straightforward reference implementations that the optimised data code must agree with.
enum ReferenceBPE {
    /// The distinct pre-tokenizer chunks of `bytes` with their counts, in first-seen order.
    static func chunks(_ bytes: [UInt8]) -> [(symbols: [Int32], count: Int)] {
        var index = [[UInt8]: Int]()
        var result = [(symbols: [Int32], count: Int)]()
        bytes.withUnsafeBufferPointer { buffer in
            PreTokenizer.forEachChunk(in: buffer) { range in
                let chunk = Array(buffer[range])
                if let i = index[chunk] {
                    result[i].count += 1
                } else {
                    index[chunk] = result.count
                    result.append((chunk.map { Int32($0) }, 1))
                }
            }
        }
        return result
    }

    /// Merges `pair` into `token` left to right, non-overlapping.
    static func apply(_ merge: BPETokenizer.Merge, token: Int32, to symbols: [Int32]) -> [Int32] {
        var out = [Int32]()
        var i = 0
        while i < symbols.count {
            if i + 1 < symbols.count, symbols[i] == merge.left, symbols[i + 1] == merge.right {
                out.append(token)
                i += 2
            } else {
                out.append(symbols[i])
                i += 1
            }
        }
        return out
    }

    /// Training by recounting every pair at every step: most frequent first, ties to the
    /// smallest (left, right).
    static func train(_ bytes: [UInt8], vocabSize: Int) -> [BPETokenizer.Merge] {
        var words = chunks(bytes)
        var merges = [BPETokenizer.Merge]()
        while 256 + merges.count < vocabSize {
            var counts = [BPETokenizer.Merge: Int]()
            for word in words where word.symbols.count > 1 {
                for i in 0..<(word.symbols.count - 1) {
                    counts[BPETokenizer.Merge(left: word.symbols[i], right: word.symbols[i + 1]), default: 0] += word.count
                }
            }
            guard let best = counts.min(by: { a, b in
                a.value != b.value ? a.value > b.value : (a.key.left, a.key.right) < (b.key.left, b.key.right)
            }) else { break }
            let token = Int32(256 + merges.count)
            merges.append(best.key)
            for w in words.indices {
                words[w].symbols = apply(best.key, token: token, to: words[w].symbols)
            }
        }
        return merges
    }

    /// Encoding by applying every merge in rank order to each chunk.
    static func encode(_ bytes: [UInt8], merges: [BPETokenizer.Merge]) -> [Int32] {
        var ids = [Int32]()
        bytes.withUnsafeBufferPointer { buffer in
            PreTokenizer.forEachChunk(in: buffer) { range in
                var symbols = buffer[range].map { Int32($0) }
                for (rank, merge) in merges.enumerated() {
                    symbols = apply(merge, token: Int32(256 + rank), to: symbols)
                }
                ids += symbols
            }
        }
        return ids
    }
}
