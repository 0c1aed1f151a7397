import Foundation

/// A problem with a data file (text, JSONL, token file, tokenizer, token cache) that the user can fix.
///
/// `description` is one line naming the file and the problem, ready for a CLI to print before
/// exiting non-zero.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// Nothing exists at the path.
    case fileNotFound(path: String)
    /// The path exists but is a directory or another non-regular file.
    case notAFile(path: String)
    /// The file exists but holds no bytes.
    case emptyFile(path: String)
    /// The file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// The file could not be written.
    case unwritable(path: String, reason: String)
    /// The file was read but its content is not what was expected.
    case corrupt(path: String, reason: String)
    /// The file is valid but uses something Sketchgrad does not support (e.g. a Unigram tokenizer).
    case unsupported(path: String, reason: String)
    /// One line of a line-oriented file (JSONL) is wrong; lines count from 1.
    case badLine(path: String, line: Int, reason: String)
    /// A split of an example dataset (instruction records) has no example.
    case noExamples(source: String, split: String)
    /// A token stream (or one of its splits) is too short to cut a single training window.
    case tooShort(source: String, split: String, tokens: Int, sequenceLength: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .notAFile(let path):
            return "\(path): not a regular file"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read (\(reason))"
        case .unwritable(let path, let reason):
            return "\(path): cannot be written (\(reason))"
        case .corrupt(let path, let reason):
            return "\(path): corrupt file (\(reason))"
        case .unsupported(let path, let reason):
            return "\(path): unsupported (\(reason))"
        case .badLine(let path, let line, let reason):
            return "\(path):\(line): \(reason)"
        case .noExamples(let source, let split):
            return "\(source): the \(split) split has no examples (give more records or --valid-data)"
        case .tooShort(let source, let split, let tokens, let sequenceLength):
            return "\(source): the \(split) split has \(tokens) tokens, but one window of sequence length "
                + "\(sequenceLength) needs at least \(sequenceLength + 1)"
        }
    }
}
