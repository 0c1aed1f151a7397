import Foundation

/// The records of a JSONL file: one JSON object per line, either plain documents `{"text": ...}`
/// or instruction records `{"instruction", "context", "response"}` (the databricks-dolly-15k
/// layout; `context` may be empty or absent). The first record decides which; blank lines are
/// skipped. Other fields are ignored.
public enum JSONLDocuments: Equatable, Sendable {
    case texts([String])
    case instructions([InstructionRecord])

    /// Reads and checks every line.
    /// - Throws: `DataError.badLine` with the line number for a line that is not a JSON object,
    ///   lacks a field, holds a non-string field, or is of the other kind than the first record;
    ///   `DataError` for a missing, empty or record-less file.
    public static func read(_ url: URL) throws -> JSONLDocuments {
        let path = url.path
        let bytes = try DataFiles.read(url)
        var texts: [String] = []
        var records: [InstructionRecord] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D) }) else { continue }
            func bad(_ reason: String) -> DataError { .badLine(path: path, line: lineNumber, reason: reason) }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)), let fields = object as? [String: Any] else {
                throw bad("not a JSON object")
            }
            func string(_ key: String, required: Bool = true) throws -> String? {
                switch fields[key] {
                case let s as String: return s
                case nil, is NSNull: if required { throw bad("missing \"\(key)\"") } else { return nil }
                default: throw bad("\"\(key)\" is not a string")
                }
            }
            let isText = fields["text"] != nil && fields["instruction"] == nil
            if isText, records.isEmpty {
                texts.append(try string("text")!)
            } else if !isText, texts.isEmpty {
                records.append(InstructionRecord(instruction: try string("instruction")!,
                                                 context: try string("context", required: false) ?? "",
                                                 response: try string("response")!))
            } else {
                throw bad(texts.isEmpty ? "a {\"text\"} record in a file of instruction records"
                                        : "not a {\"text\"} record like the lines before it")
            }
        }
        if texts.isEmpty && records.isEmpty { throw DataError.corrupt(path: path, reason: "no records") }
        return texts.isEmpty ? .instructions(records) : .texts(texts)
    }

    /// All the text, for training a tokenizer: documents, or prompts and responses, one per line.
    public var trainingText: String {
        switch self {
        case .texts(let texts): return texts.joined(separator: "\n")
        case .instructions(let records): return records.map { $0.prompt + $0.response }.joined(separator: "\n")
        }
    }
}

/// One instruction-tuning example; the model learns only the response.
public struct InstructionRecord: Equatable, Sendable {
    public var instruction: String
    public var context: String
    public var response: String

    public init(instruction: String, context: String = "", response: String) {
        self.instruction = instruction
        self.context = context
        self.response = response
    }

    /// The text before the response (the Alpaca template; the input block only with a context):
    ///
    ///     ### Instruction:
    ///     {instruction}
    ///
    ///     ### Input:
    ///     {context}
    ///
    ///     ### Response:
    ///
    /// The response follows directly, then the tokenizer's end-of-sequence token.
    public var prompt: String {
        var text = "### Instruction:\n\(instruction)\n\n"
        if !context.isEmpty { text += "### Input:\n\(context)\n\n" }
        return text + "### Response:\n"
    }
}
