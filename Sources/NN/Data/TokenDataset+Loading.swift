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

extension TokenDataset {
    /// The documents of a JSONL file as one stream: each is `tokenizer.encodeDocument(text)` (its
    /// prefix, its tokens, the end-of-sequence token).
    public static func stream(of texts: [String], tokenizer: BPETokenizer) -> [Int32] {
        texts.flatMap { tokenizer.encodeDocument($0) }
    }

    /// Instruction records as examples: the document prefix and the prompt (see
    /// ``InstructionRecord/prompt``) are context only; the response and the end-of-sequence token
    /// are learned. Prompt and response are encoded separately, so no token spans the boundary.
    public static func examples(of records: [InstructionRecord], tokenizer: BPETokenizer) -> [Example] {
        records.map { r in
            let prompt = tokenizer.documentPrefix + tokenizer.encode(r.prompt)
            let response = tokenizer.encode(r.response) + (tokenizer.endOfSequence.map { [$0] } ?? [])
            return Example(tokens: prompt + response, promptLength: prompt.count)
        }
    }
}
