import Foundation

/// Tokenizer and data of a run, by the kind of `--data`: text, JSONL (`.jsonl`: `{"text"}`
/// documents or instruction records) or a token file (`.bin` uint16, `.u32.bin` uint32).
extension PretrainSession {
    /// The tokenizer comes from `--tokenizer`, else the `--init` folder, else it is trained on the
    /// training data (with `<|endoftext|>`, cached); a token file needs none.
    static func loadData(_ config: RunConfiguration, vocabSize vocab: Int,
                         cacheDirectory: URL) throws -> (BPETokenizer?, TokenDataset) {
        let trainURL: URL
        if let path = config.dataFile {
            trainURL = URL(fileURLWithPath: path)
        } else {
            trainURL = try builtinCorpus(sentences: config.corpusSentences, in: cacheDirectory)
        }
        let validURL = config.validationFile.map { URL(fileURLWithPath: $0) }
        let kind = DataKind(trainURL.path)
        if let validURL, DataKind(validURL.path) != kind {
            throw RunError("--valid-data \(validURL.path) must be the same kind of file as --data (\(kind.rawValue))")
        }
        // Caches go beside the data unless its folder is read-only.
        let cache = { (url: URL) -> URL? in
            FileManager.default.isWritableFile(atPath: url.deletingLastPathComponent().path) ? nil : cacheDirectory
        }
        var tokenizer = try givenTokenizer(config)
        if let tokenizer, tokenizer.vocabSize > vocab {
            throw RunError("the tokenizer has \(tokenizer.vocabSize) tokens, more than the model's vocabulary of \(vocab)")
        }
        let special = [BPETokenizer.endOfText]
        if tokenizer == nil, kind != .tokens, vocab < BPETokenizer.byteTokenCount + special.count {
            throw RunError("--vocab-size must be at least \(BPETokenizer.byteTokenCount + special.count) (256 byte tokens and <|endoftext|>), got \(vocab)")
        }
        let source = ([trainURL] + (validURL.map { [$0] } ?? [])).map(\.path).joined(separator: " + ")

        switch kind {
        case .tokens:
            let train = try TokenFile.read(trainURL, vocabSize: vocab)
            guard let validURL else { return (tokenizer, TokenDataset(tokens: train, source: trainURL.path)) }
            return (tokenizer, TokenDataset(train: train, validation: try TokenFile.read(validURL, vocabSize: vocab), source: source))

        case .jsonl:
            let train = try JSONLDocuments.read(trainURL)
            let valid = try validURL.map { try JSONLDocuments.read($0) }
            let t = tokenizer ?? BPETokenizer.loadOrTrain(bytes: Array(train.trainingText.utf8), vocabSize: vocab, specialTokens: special,
                                                          cache: DataFiles.Cache(textFile: trainURL, directory: cache(trainURL)))
            switch (train, valid) {
            case let (.texts(docs), nil):
                return (t, TokenDataset(tokens: TokenDataset.stream(of: docs, tokenizer: t), source: trainURL.path))
            case let (.texts(docs), .texts(validDocs)?):
                return (t, TokenDataset(train: TokenDataset.stream(of: docs, tokenizer: t),
                                        validation: TokenDataset.stream(of: validDocs, tokenizer: t), source: source))
            case let (.instructions(records), nil):
                return (t, TokenDataset(examples: TokenDataset.examples(of: records, tokenizer: t), source: trainURL.path))
            case let (.instructions(records), .instructions(validRecords)?):
                return (t, TokenDataset(trainExamples: TokenDataset.examples(of: records, tokenizer: t),
                                        validationExamples: TokenDataset.examples(of: validRecords, tokenizer: t), source: source))
            default:
                throw RunError("--valid-data \(validURL!.path) holds other records than --data ({\"text\"} vs instruction records)")
            }

        case .text:
            if tokenizer == nil {
                tokenizer = try BPETokenizer.loadOrTrain(textFile: trainURL, vocabSize: vocab, specialTokens: special,
                                                         cacheDirectory: cache(trainURL))
            }
            let t = tokenizer!
            if let validURL {
                return (t, try TokenDataset.load(trainFile: trainURL, validationFile: validURL, tokenizer: t,
                                                 cacheDirectory: cache(trainURL) ?? cache(validURL)))
            }
            return (t, try TokenDataset.load(textFile: trainURL, tokenizer: t, cacheDirectory: cache(trainURL)))
        }
    }

    /// `--tokenizer`, else the tokenizer.json of the `--init` folder (required there unless the
    /// data is a token file, where an absent or unsupported one is no tokenizer).
    static func givenTokenizer(_ config: RunConfiguration) throws -> BPETokenizer? {
        if let path = config.tokenizerFile { return try BPETokenizer.load(from: URL(fileURLWithPath: path)) }
        guard let initFrom = config.initFrom else { return nil }
        let file = URL(fileURLWithPath: initFrom).appendingPathComponent(BPETokenizer.fileName)
        // Token files need no tokenizer: one that cannot be read (SentencePiece style) is skipped.
        if let data = config.dataFile, DataKind(data) == .tokens { return try? BPETokenizer.load(from: file) }
        if FileManager.default.fileExists(atPath: file.path) { return try BPETokenizer.load(from: file) }
        throw RunError("--init \(initFrom) has no \(BPETokenizer.fileName); pass --tokenizer PATH or train on a token file")
    }

    enum DataKind: String {
        case text, jsonl = "JSONL", tokens = "token file"

        init(_ path: String) {
            if TokenFile.isTokenFile(path) { self = .tokens } else if path.hasSuffix(".jsonl") { self = .jsonl } else { self = .text }
        }
    }
}
