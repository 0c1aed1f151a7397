import ArgumentParser
import Foundation
import NN

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode a text file with a tokenizer.json and write its ids as safetensors.",
        discussion: """
        Writes one tensor, input_ids (I32, shape [1, N]), with exactly the ids that Hugging Face tokenizers gives for encode(text, add_special_tokens=False); usable as llama-gradients --input.

        Example:
          llama-pretrain tokenize --tokenizer runs/default/checkpoint --text notes.txt --out ids.safetensors
        """)

    @OptionGroup var shared: SharedFlags

    @Option(help: "UTF-8 text file to encode. Example: --text notes.txt")
    var text: String

    func run() throws {
        do {
            guard let tokenizer = shared.tokenizer, let out = shared.out else {
                throw ValidationError("tokenize needs --tokenizer PATH and --out FILE")
            }
            let t = try BPETokenizer.load(from: URL(fileURLWithPath: tokenizer))
            let textURL = URL(fileURLWithPath: text)
            let ids = try t.encode(contentsOf: textURL, useCache: false)
            var writer = SafetensorsWriter(metadata: ["source": textURL.lastPathComponent])
            writer.add("input_ids", int32: ids, shape: [1, ids.count])
            try writer.write(to: URL(fileURLWithPath: out))
            print("\(ids.count) tokens (vocabulary \(t.vocabSize)) written to \(out)")
        } catch {
            fail(error)
        }
    }
}

struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train Sketchgrad's byte-level BPE on a text file and save it as tokenizer.json.",
        discussion: """
        Writes tokenizer.json and tokenizer_config.json (Hugging Face format, loadable by AutoTokenizer.from_pretrained) into --out. The vocabulary ends with the special token <|endoftext|>. The same tokenizer is what a training run on this text would use; pass it to other runs with --tokenizer.

        Example:
          llama-pretrain train-tokenizer --text ../shared/data/shakespeare-train.txt --vocab-size 8000 --out tokenizers/shakespeare
        """)

    @OptionGroup var shared: SharedFlags

    @Option(help: "Training text (UTF-8). Example: --text corpus.txt")
    var text: String

    @Option(help: "model_max_length written to tokenizer_config.json. Example: --max-length 1024")
    var maxLength = 1024

    func run() throws {
        do {
            guard let vocabSize = shared.vocabSize, let out = shared.out else {
                throw ValidationError("train-tokenizer needs --vocab-size N and --out FOLDER")
            }
            let special = [BPETokenizer.endOfText]
            guard vocabSize >= BPETokenizer.byteTokenCount + special.count else {
                throw RunError("--vocab-size must be at least \(BPETokenizer.byteTokenCount + special.count) (256 byte tokens and <|endoftext|>), got \(vocabSize)")
            }
            let textURL = URL(fileURLWithPath: text)
            let t = try BPETokenizer.loadOrTrain(textFile: textURL, vocabSize: vocabSize, specialTokens: special,
                                                 cacheDirectory: FileManager.default.temporaryDirectory)
            let dir = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try t.saveHuggingFace(in: dir, modelMaxLength: maxLength)
            print("tokenizer with \(t.vocabSize) tokens written to \(dir.path)/{tokenizer.json,tokenizer_config.json}")
        } catch {
            fail(error)
        }
    }
}
