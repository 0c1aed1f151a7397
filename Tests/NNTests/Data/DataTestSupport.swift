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
    /// smallest (left, right); a merge whose bytes already form a token reuses it.
    static func train(_ bytes: [UInt8], vocabSize: Int) -> [BPETokenizer.Merge] {
        var words = chunks(bytes)
        var merges = [BPETokenizer.Merge]()
        var tokenBytes = (0..<256).map { [UInt8($0)] }
        while tokenBytes.count < vocabSize {
            var counts = [[Int32]: Int]()
            for word in words where word.symbols.count > 1 {
                for i in 0..<(word.symbols.count - 1) {
                    counts[[word.symbols[i], word.symbols[i + 1]], default: 0] += word.count
                }
            }
            guard let best = counts.min(by: { a, b in
                a.value != b.value ? a.value > b.value : (a.key[0], a.key[1]) < (b.key[0], b.key[1])
            }) else { break }
            let merged = tokenBytes[Int(best.key[0])] + tokenBytes[Int(best.key[1])]
            let token = tokenBytes.firstIndex(of: merged).map { Int32($0) } ?? Int32(tokenBytes.count)
            if Int(token) == tokenBytes.count { tokenBytes.append(merged) }
            let merge = BPETokenizer.Merge(left: best.key[0], right: best.key[1], result: token)
            merges.append(merge)
            for w in words.indices {
                words[w].symbols = apply(merge, token: token, to: words[w].symbols)
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
                for merge in merges {
                    symbols = apply(merge, token: merge.result, to: symbols)
                }
                ids += symbols
            }
        }
        return ids
    }
}
