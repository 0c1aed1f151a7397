import ArgumentParser

/// Options that the root command (training) and its subcommands share.
///
/// ArgumentParser parses the root command's options first, over the whole command line, and
/// hands a subcommand an option group already parsed only when the subcommand declares the same
/// type. So every option name that a subcommand shares with the root lives here, and both declare
/// `@OptionGroup var shared: SharedFlags`.
struct SharedFlags: ParsableArguments {
    @Option(help: "A tokenizer.json, or a folder holding one (a checkpoint or Hugging Face model folder): byte-level BPE from Hugging Face tokenizers (GPT-2, Qwen, LLaMA-3 style) or Sketchgrad. Training uses it instead of training one on --data. Example: --tokenizer runs/default/checkpoint")
    var tokenizer: String?

    @Option(help: "Vocabulary of the model and target of the trained tokenizer, including <|endoftext|> (default: the model configuration's). Example: --vocab-size 8000")
    var vocabSize: Int?

    @Option(help: "Output: the run folder (default runs/default; with --resume: the resumed folder), compare's parent folder (default runs/compare), tokenize's safetensors file, train-tokenizer's folder. Example: --out runs/exact")
    var out: String?
}
