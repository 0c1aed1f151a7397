import Foundation

/// Writing a tokenizer in the Hugging Face `tokenizers` format, so that
/// `PreTrainedTokenizerFast.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`
/// encode any text to exactly Sketchgrad's ids.
extension BPETokenizer {
    /// File names inside a model folder.
    public static let fileName = "tokenizer.json"
    public static let configFileName = "tokenizer_config.json"

    /// Writes `tokenizer.json` at `url` (atomically).
    public func save(to url: URL) throws {
        try DataFiles.write(Array(huggingFaceJSON().utf8), to: url)
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `directory`.
    /// - Parameter modelMaxLength: the longest sequence the model takes (`model_max_length`).
    public func saveHuggingFace(in directory: URL, modelMaxLength: Int) throws {
        try save(to: directory.appendingPathComponent(Self.fileName))
        try DataFiles.write(Array(huggingFaceConfigJSON(modelMaxLength: modelMaxLength).utf8),
                            to: directory.appendingPathComponent(Self.configFileName))
    }

    /// The `tokenizer.json` text: model `BPE` (vocab in id order, merges by rank), the pipeline's
    /// normalizers and `Split`/`ByteLevel` pre-tokenizers, a `ByteLevel` decoder, the added tokens,
    /// and a `TemplateProcessing` post-processor when documents have a prefix.
    public func huggingFaceJSON() -> String {
        let added = Set(addedTokens.map(\.id))
        var vocab: [String] = []
        vocab.reserveCapacity(tokenBytes.count)
        var tokenStrings = [String](repeating: "", count: tokenBytes.count)
        for (id, bytes) in tokenBytes.enumerated() where !bytes.isEmpty && !added.contains(Int32(id)) {
            let token = ByteLevelAlphabet.string(bytes)
            tokenStrings[id] = token
            vocab.append("\(jsonString(token)):\(id)")
        }
        let merges = self.merges.map { "\(jsonString(tokenStrings[Int($0.left)] + " " + tokenStrings[Int($0.right)]))" }
        let addedJSON = addedTokens.map { t in
            "{\"id\":\(t.id),\"content\":\(jsonString(t.content)),\"single_word\":\(t.singleWord),\"lstrip\":\(t.lstrip),"
                + "\"rstrip\":\(t.rstrip),\"normalized\":\(t.normalized),\"special\":\(t.special)}"
        }
        let byteLevel = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false}"
        return """
            {"version":"1.0","truncation":null,"padding":null,
            "added_tokens":[\(addedJSON.joined(separator: ",\n"))],
            "normalizer":\(normalizerJSON),
            "pre_tokenizer":\(preTokenizerJSON),
            "post_processor":\(postProcessorJSON ?? byteLevel),
            "decoder":\(byteLevel),
            "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,\
            "fuse_unk":false,"byte_fallback":false,"ignore_merges":\(wholeChunks != nil),
            "vocab":{\(vocab.joined(separator: ",\n"))},
            "merges":[\(merges.joined(separator: ",\n"))]}}

            """
    }

    /// `tokenizer_config.json`: the fast tokenizer class, special tokens and no clean-up of
    /// spaces on decoding (which would change the text).
    public func huggingFaceConfigJSON(modelMaxLength: Int) -> String {
        func token(_ id: Int32?) -> String {
            guard let id, let t = addedTokens.first(where: { $0.id == id }) else { return "null" }
            return jsonString(t.content)
        }
        let decoder = addedTokens.map { t in
            "\"\(t.id)\":{\"content\":\(jsonString(t.content)),\"lstrip\":\(t.lstrip),\"normalized\":\(t.normalized),"
                + "\"rstrip\":\(t.rstrip),\"single_word\":\(t.singleWord),\"special\":\(t.special)}"
        }
        return """
            {"tokenizer_class":"PreTrainedTokenizerFast","model_max_length":\(modelMaxLength),\
            "clean_up_tokenization_spaces":false,"bos_token":\(token(documentPrefix.first)),\
            "eos_token":\(token(endOfSequence)),"unk_token":null,"pad_token":null,
            "added_tokens_decoder":{\(decoder.joined(separator: ",\n"))}}

            """
    }

    private var normalizerJSON: String {
        let items = pipeline.normalizers.map { "{\"type\":\"\($0.rawValue)\"}" }
        switch items.count {
        case 0: return "null"
        case 1: return items[0]
        default: return "{\"type\":\"Sequence\",\"normalizers\":[\(items.joined(separator: ","))]}"
        }
    }

    private var preTokenizerJSON: String {
        let items = pipeline.steps.map { step -> String in
            switch step {
            case let .split(regex, behavior):
                return "{\"type\":\"Split\",\"pattern\":{\"Regex\":\(jsonString(regex.pattern))},"
                    + "\"behavior\":\"\(behavior.rawValue)\",\"invert\":false}"
            case let .byteLevel(addPrefixSpace, useRegex):
                return "{\"type\":\"ByteLevel\",\"add_prefix_space\":\(addPrefixSpace),\"trim_offsets\":true,\"use_regex\":\(useRegex)}"
            }
        }
        return items.count == 1 ? items[0] : "{\"type\":\"Sequence\",\"pretokenizers\":[\(items.joined(separator: ","))]}"
    }

    /// A `TemplateProcessing` that puts ``documentPrefix`` before a sequence, or nil without one.
    private var postProcessorJSON: String? {
        guard !documentPrefix.isEmpty else { return nil }
        let names = documentPrefix.map { id in addedTokens.first { $0.id == id }?.content ?? ByteLevelAlphabet.string(tokenBytes[Int(id)]) }
        let items = names.map { "{\"SpecialToken\":{\"id\":\(jsonString($0)),\"type_id\":0}}" }
        let single = (items + ["{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}"]).joined(separator: ",")
        let pair = (items + ["{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}"] + items + ["{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}"])
            .joined(separator: ",")
        var specials: [String: Int32] = [:]
        for (name, id) in zip(names, documentPrefix) { specials[name] = id }
        let map = specials.keys.sorted().map { "\(jsonString($0)):{\"id\":\(jsonString($0)),\"ids\":[\(specials[$0]!)],\"tokens\":[\(jsonString($0))]}" }
        return "{\"type\":\"TemplateProcessing\",\"single\":[\(single)],\"pair\":[\(pair)],\"special_tokens\":{\(map.joined(separator: ","))}}"
    }
}
