import Tensor
import Foundation

extension BPETokenizer {
    /// The tokenizer for `textFile` at `vocabSize`: loaded from the cache if a valid one is there,
    /// otherwise trained on the file's bytes and cached as `tokenizer-<hash>-<vocabSize>.json`
    /// (a Hugging Face `tokenizer.json`) in `cacheDirectory` (default: beside the text).
    /// - Throws: `DataError` if the text file is missing, not a file, empty or unreadable.
    public static func loadOrTrain(textFile: URL, vocabSize: Int, specialTokens: [String] = [],
                                   cacheDirectory: URL? = nil) throws -> BPETokenizer {
        let bytes = try DataFiles.read(textFile)
        return loadOrTrain(bytes: bytes, vocabSize: vocabSize, specialTokens: specialTokens,
                           cache: DataFiles.Cache(textFile: textFile, directory: cacheDirectory))
    }

    /// ``loadOrTrain(textFile:vocabSize:specialTokens:cacheDirectory:)`` on bytes already read
    /// (e.g. the rendered records of a JSONL file), cached in `cache`.
    static func loadOrTrain(bytes: [UInt8], vocabSize: Int, specialTokens: [String], cache: DataFiles.Cache) -> BPETokenizer {
        var hash = FNV1a()
        hash.combine(bytes)
        for token in specialTokens { hash.combine(Array(token.utf8) + [0]) }
        let name = "tokenizer-\(DataFiles.Cache.hex(hash.value))-\(vocabSize).json"
        if let cached = try? load(from: cache.url(name)) {
            return cached
        }
        let tokenizer = train(bytes: bytes, vocabSize: vocabSize, specialTokens: specialTokens)
        cache.store(as: name) { try tokenizer.save(to: $0) }
        return tokenizer
    }

    /// The tokens of a text file, cached in a small binary file keyed by a hash of the text and of
    /// this tokenizer (`<file name>.tokens-<hash>.bin` in `cacheDirectory`, default beside the
    /// text), so a second run starts at once. A corrupt cache is ignored and rewritten.
    /// With `useCache` false nothing is read from or written to the cache.
    /// - Throws: `DataError` if the text file is missing, not a file, empty or unreadable, or not
    ///   UTF-8 for a tokenizer that works on text (an imported one).
    public func encode(contentsOf textFile: URL, cacheDirectory: URL? = nil, useCache: Bool = true) throws -> [Int32] {
        let bytes = try DataFiles.read(textFile)
        var hash = FNV1a()
        hash.combine(bytes)
        hash.combine(fingerprint)
        let key = hash.value
        let cache = DataFiles.Cache(textFile: textFile, directory: cacheDirectory)
        let name = "\(textFile.lastPathComponent).tokens-\(DataFiles.Cache.hex(key)).bin"
        if useCache, let cached = try? DataFiles.read(cache.url(name)),
           let tokens = TokenCacheFile.decode(cached, key: key, vocabSize: vocabSize) {
            return tokens
        }
        if !usesByteScanner, String(validating: bytes, as: UTF8.self) == nil {
            throw DataError.corrupt(path: textFile.path, reason: "not valid UTF-8, which this tokenizer's text pipeline needs")
        }
        let tokens = encode(bytes: bytes)
        if useCache { cache.store(as: name) { try DataFiles.write(TokenCacheFile.encode(tokens, key: key), to: $0) } }
        return tokens
    }

    /// A stable fingerprint of everything that decides the ids (its `tokenizer.json`), part of
    /// every token-cache key.
    var fingerprint: UInt64 {
        FNV1a.hash(Array(huggingFaceJSON().utf8))
    }
}
