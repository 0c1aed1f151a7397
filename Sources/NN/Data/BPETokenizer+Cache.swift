import Tensor
import Foundation

extension BPETokenizer {
    /// The tokenizer for `textFile` at `vocabSize`: loaded from the cache if a valid one is there,
    /// otherwise trained on the file's bytes and cached as `tokenizer-<text hash>-<vocabSize>.json`
    /// in `cacheDirectory` (default: beside the text).
    /// - Throws: `DataError` if the text file is missing, not a file, empty or unreadable.
    public static func loadOrTrain(textFile: URL, vocabSize: Int, cacheDirectory: URL? = nil) throws -> BPETokenizer {
        let bytes = try DataFiles.read(textFile)
        let cache = DataFiles.Cache(textFile: textFile, directory: cacheDirectory)
        let name = "tokenizer-\(DataFiles.Cache.hex(FNV1a.hash(bytes)))-\(vocabSize).json"
        if let cached = try? load(from: cache.url(name)) {
            return cached
        }
        let tokenizer = train(bytes: bytes, vocabSize: vocabSize)
        cache.store(as: name) { try tokenizer.save(to: $0) }
        return tokenizer
    }

    /// The tokens of a text file, cached in a small binary file keyed by a hash of the text and of
    /// this tokenizer (`<file name>.tokens-<hash>.bin` in `cacheDirectory`, default beside the
    /// text), so a second run starts at once. A corrupt cache is ignored and rewritten.
    /// - Throws: `DataError` if the text file is missing, not a file, empty or unreadable.
    public func encode(contentsOf textFile: URL, cacheDirectory: URL? = nil) throws -> [Int32] {
        let bytes = try DataFiles.read(textFile)
        var hash = FNV1a()
        hash.combine(bytes)
        hash.combine(fingerprint)
        let key = hash.value
        let cache = DataFiles.Cache(textFile: textFile, directory: cacheDirectory)
        let name = "\(textFile.lastPathComponent).tokens-\(DataFiles.Cache.hex(key)).bin"
        if let cached = try? DataFiles.read(cache.url(name)),
           let tokens = TokenCacheFile.decode(cached, key: key, vocabSize: vocabSize) {
            return tokens
        }
        let tokens = encode(bytes: bytes)
        cache.store(as: name) { try DataFiles.write(TokenCacheFile.encode(tokens, key: key), to: $0) }
        return tokens
    }
}
