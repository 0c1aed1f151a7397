import Foundation

/// Reading a Hugging Face `tokenizer.json` with a byte-level BPE model (GPT-2, RoBERTa, Qwen,
/// LLaMA-3, and Sketchgrad's own).
extension BPETokenizer {
    /// What ``load(from:)`` reads, for error messages.
    static let supported = "byte-level BPE: model BPE with a ByteLevel pre-tokenizer, optionally after Split regexes "
        + "(GPT-2, Qwen, LLaMA-3 style)"

    /// Reads a `tokenizer.json`, or the one inside a folder. `tokenizer_config.json` beside it
    /// (when present) names the end-of-sequence token; otherwise `<|endoftext|>` is, if it exists.
    /// - Throws: `DataError` naming the file and the problem: not JSON, not a byte-level BPE
    ///   (`unsupported`, naming what is), a merge naming an unknown token, a missing byte token.
    public static func load(from url: URL) throws -> BPETokenizer {
        var isDirectory: ObjCBool = false
        var file = url
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = url.appendingPathComponent(fileName)
        }
        let root = try readJSONObject(file)
        let config = file.deletingLastPathComponent().appendingPathComponent(configFileName)
        let configRoot = FileManager.default.fileExists(atPath: config.path) ? try readJSONObject(config) : nil
        var reader = TokenizerFileReader(path: file.path)
        return try reader.tokenizer(root, config: configRoot)
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any] {
        let bytes = try DataFiles.read(url)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let root = object as? [String: Any] else {
            throw DataError.corrupt(path: url.path, reason: "not a JSON object")
        }
        return root
    }
}

/// The parsing of one file, with its path for errors.
private struct TokenizerFileReader {
    let path: String

    func corrupt(_ reason: String) -> DataError { .corrupt(path: path, reason: reason) }
    func unsupported(_ reason: String) -> DataError {
        .unsupported(path: path, reason: "\(reason); supported: \(BPETokenizer.supported)")
    }

    mutating func tokenizer(_ root: [String: Any], config: [String: Any]?) throws -> BPETokenizer {
        guard let model = root["model"] as? [String: Any] else { throw corrupt("no \"model\" object") }
        let type = model["type"] as? String ?? (model["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else { throw unsupported("tokenizer model is \(type)") }
        if let dropout = model["dropout"] as? Double, dropout > 0 { throw unsupported("BPE dropout \(dropout)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model[key] as? String, !affix.isEmpty { throw unsupported("\(key) \"\(affix)\"") }
        }
        let pipeline = try textPipeline(normalizer: root["normalizer"], preTokenizer: root["pre_tokenizer"])

        // Vocabulary: byte-level strings → bytes; added tokens by their content.
        guard let vocab = model["vocab"] as? [String: Any] else { throw corrupt("model has no \"vocab\" object") }
        var ids = [String: Int32](minimumCapacity: vocab.count)
        for (token, value) in vocab {
            guard let id = value as? Int, id >= 0, id < Int(Int32.max) else { throw corrupt("vocab entry \(jsonString(token)) has no valid id") }
            ids[token] = Int32(id)
        }
        let added = try addedTokens(root["added_tokens"])
        let largest = max(ids.values.max() ?? -1, added.map(\.id).max() ?? -1)
        var tokenBytes = [[UInt8]](repeating: [], count: Int(largest) + 1)
        for (token, id) in ids {
            // An entry outside the byte alphabet can never come out of byte-level BPE; it keeps its
            // UTF-8 for decoding.
            tokenBytes[Int(id)] = ByteLevelAlphabet.bytes(of: token) ?? Array(token.utf8)
        }
        for t in added { tokenBytes[Int(t.id)] = Array(t.content.utf8) }
        var byteTokens = [Int32]()
        for b in 0..<256 {
            guard let id = ids[String(ByteLevelAlphabet.scalars[b])] else {
                throw unsupported(String(format: "vocab lacks the byte-level token of byte 0x%02X, so this is not a byte-level BPE", b))
            }
            byteTokens.append(id)
        }
        let merges = try self.merges(model["merges"], ids: ids)
        return BPETokenizer(byteTokens: byteTokens, merges: merges, tokenBytes: tokenBytes, addedTokens: added,
                            pipeline: pipeline, ignoreMerges: model["ignore_merges"] as? Bool ?? false,
                            endOfSequence: try endOfSequence(config: config, added: added, ids: ids),
                            documentPrefix: try documentPrefix(root["post_processor"], added: added, ids: ids))
    }

    private func merges(_ value: Any?, ids: [String: Int32]) throws -> [BPETokenizer.Merge] {
        guard let list = value as? [Any] else { throw corrupt("model has no \"merges\" list") }
        var merges = [BPETokenizer.Merge]()
        merges.reserveCapacity(list.count)
        for (rank, item) in list.enumerated() {
            let pair: [String]
            if let text = item as? String {
                pair = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else {
                pair = (item as? [Any])?.compactMap { $0 as? String } ?? []
            }
            guard pair.count == 2 else { throw corrupt("merge \(rank) is not a pair of tokens") }
            guard let left = ids[pair[0]] else { throw corrupt("merge \(rank) names unknown token \(jsonString(pair[0]))") }
            guard let right = ids[pair[1]] else { throw corrupt("merge \(rank) names unknown token \(jsonString(pair[1]))") }
            guard let result = ids[pair[0] + pair[1]] else {
                throw corrupt("merge \(rank) creates \(jsonString(pair[0] + pair[1])), which is not in the vocab")
            }
            merges.append(.init(left: left, right: right, result: result))
        }
        return merges
    }

    private func addedTokens(_ value: Any?) throws -> [BPETokenizer.AddedToken] {
        guard let list = value as? [Any] else { return [] }
        return try list.enumerated().map { index, item in
            guard let t = item as? [String: Any], let id = t["id"] as? Int, id >= 0, id < Int(Int32.max),
                  let content = t["content"] as? String, !content.isEmpty else {
                throw corrupt("added_tokens[\(index)] needs an \"id\" and a non-empty \"content\"")
            }
            return BPETokenizer.AddedToken(id: Int32(id), content: content, special: t["special"] as? Bool ?? false,
                                           normalized: t["normalized"] as? Bool ?? false,
                                           lstrip: t["lstrip"] as? Bool ?? false, rstrip: t["rstrip"] as? Bool ?? false,
                                           singleWord: t["single_word"] as? Bool ?? false)
        }
    }

    // MARK: Pipeline

    private func textPipeline(normalizer: Any?, preTokenizer: Any?) throws -> TextPipeline {
        var normalizers: [TextPipeline.Normalization] = []
        try flatten(normalizer, listKey: "normalizers").forEach { item in
            let type = item["type"] as? String ?? "?"
            guard let n = TextPipeline.Normalization(rawValue: type) else {
                throw unsupported("normalizer \(type) (NFC, NFKC, NFD and NFKD are)")
            }
            normalizers.append(n)
        }
        var steps: [TextPipeline.Step] = []
        for item in try flatten(preTokenizer, listKey: "pretokenizers") {
            let type = item["type"] as? String ?? "?"
            if case .byteLevel? = steps.last { throw unsupported("pre-tokenizer \(type) after ByteLevel") }
            switch type {
            case "ByteLevel":
                steps.append(.byteLevel(addPrefixSpace: item["add_prefix_space"] as? Bool ?? true,
                                        useRegex: item["use_regex"] as? Bool ?? true))
            case "Split":
                steps.append(try split(item))
            case "Digits":
                let pattern = item["individual_digits"] as? Bool == true ? #"\p{N}"# : #"\p{N}+"#
                steps.append(.split(try regex(pattern), .isolated))
            default:
                throw unsupported("pre-tokenizer \(type)")
            }
        }
        guard case .byteLevel? = steps.last else { throw unsupported("no ByteLevel pre-tokenizer") }
        return TextPipeline(normalizers: normalizers, steps: steps)
    }

    /// A component or the items of its `Sequence`; nothing for null.
    private func flatten(_ value: Any?, listKey: String) throws -> [[String: Any]] {
        guard let value, !(value is NSNull) else { return [] }
        guard let object = value as? [String: Any] else { throw corrupt("\(listKey) entry is not an object") }
        guard object["type"] as? String == "Sequence" else { return [object] }
        guard let items = object[listKey] as? [Any] else { throw corrupt("Sequence without \"\(listKey)\"") }
        return try items.flatMap { try flatten($0, listKey: listKey) }
    }

    private func split(_ item: [String: Any]) throws -> TextPipeline.Step {
        if item["invert"] as? Bool == true { throw unsupported("Split with invert: true") }
        let behaviorName = item["behavior"] as? String ?? "?"
        guard let behavior = TextPipeline.SplitBehavior(rawValue: behaviorName) else {
            throw unsupported("Split behavior \(behaviorName) (Isolated and Removed are)")
        }
        let pattern = item["pattern"] as? [String: Any]
        if let text = pattern?["Regex"] as? String { return .split(try regex(text), behavior) }
        if let literal = pattern?["String"] as? String {
            let escaped = literal.unicodeScalars.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) ? String($0) : "\\x{\(String($0.value, radix: 16))}" }
            return .split(try regex(escaped.joined()), behavior)
        }
        throw corrupt("Split without a Regex or String pattern")
    }

    private func regex(_ pattern: String) throws -> TokenRegex {
        do { return try TokenRegex(pattern) } catch {
            throw unsupported("pre-tokenizer pattern \(jsonString(pattern)): \(error)")
        }
    }

    // MARK: Special tokens

    private func tokenID(_ name: String, added: [BPETokenizer.AddedToken], ids: [String: Int32]) -> Int32? {
        added.first { $0.content == name }?.id ?? ids[name]
    }

    /// `eos_token` of tokenizer_config.json (a string or `{"content": ...}`), else `<|endoftext|>`.
    private func endOfSequence(config: [String: Any]?, added: [BPETokenizer.AddedToken], ids: [String: Int32]) throws -> Int32? {
        let value = config?["eos_token"]
        let name = value as? String ?? (value as? [String: Any])?["content"] as? String
        if let name {
            guard let id = tokenID(name, added: added, ids: ids) else {
                throw DataError.corrupt(path: path, reason: "eos_token \(jsonString(name)) of \(BPETokenizer.configFileName) is not a token")
            }
            return id
        }
        return tokenID(BPETokenizer.endOfText, added: added, ids: ids)
    }

    /// The special tokens a `TemplateProcessing` post-processor puts before sequence A.
    private func documentPrefix(_ value: Any?, added: [BPETokenizer.AddedToken], ids: [String: Int32]) throws -> [Int32] {
        guard let template = try flatten(value, listKey: "processors").first(where: { $0["type"] as? String == "TemplateProcessing" }),
              let single = template["single"] as? [Any] else { return [] }
        var prefix: [Int32] = []
        for item in single {
            guard let piece = item as? [String: Any] else { continue }
            if piece["Sequence"] != nil { break }
            guard let special = piece["SpecialToken"] as? [String: Any], let name = special["id"] as? String else { continue }
            let mapped = ((template["special_tokens"] as? [String: Any])?[name] as? [String: Any])?["ids"] as? [Int]
            if let mapped {
                prefix += mapped.map { Int32($0) }
            } else if let id = tokenID(name, added: added, ids: ids) {
                prefix.append(id)
            } else {
                throw corrupt("post_processor names unknown special token \(jsonString(name))")
            }
        }
        return prefix
    }
}
