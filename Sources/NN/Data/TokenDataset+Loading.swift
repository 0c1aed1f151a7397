import Foundation

extension TokenDataset {
    /// Tokenizes a text file (through the token cache, see ``BPETokenizer/encode(contentsOf:cacheDirectory:)``)
    /// and keeps its last `validationFraction` for validation. Follow with ``validate(seq:splits:)``.
    /// - Throws: `DataError` if the file is missing, not a file, empty or unreadable.
    public static func load(textFile: URL, tokenizer: BPETokenizer, cacheDirectory: URL? = nil,
                            validationFraction: Double = 0.05) throws -> TokenDataset {
        let tokens = try tokenizer.encode(contentsOf: textFile, cacheDirectory: cacheDirectory)
        return TokenDataset(tokens: tokens, validationFraction: validationFraction, source: textFile.path)
    }

    /// Tokenizes separate training and validation text files (each through the token cache).
    /// Follow with ``validate(seq:splits:)``.
    /// - Throws: `DataError` if either file is missing, not a file, empty or unreadable.
    public static func load(trainFile: URL, validationFile: URL, tokenizer: BPETokenizer,
                            cacheDirectory: URL? = nil) throws -> TokenDataset {
        let train = try tokenizer.encode(contentsOf: trainFile, cacheDirectory: cacheDirectory)
        let validation = try tokenizer.encode(contentsOf: validationFile, cacheDirectory: cacheDirectory)
        return TokenDataset(train: train, validation: validation,
                            source: "\(trainFile.path) + \(validationFile.path)")
    }
}
