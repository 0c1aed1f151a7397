/// A built-in, deterministic English-like corpus, so that examples train with no data file.
///
/// Text comes from a small probabilistic grammar over a few hundred words (``SyntheticLexicon``)
/// with structure a language model can learn: subject–verb agreement in number and person
/// (including "do/does" and "is/are/was/were"), irregular plurals and past tenses, "a/an" before
/// vowels, time phrases that agree with the tense, meaningful roles (people read books; animals
/// chase and bark), relative clauses, questions, dialogue in quotes, and paragraphs. Word choice is
/// skewed so that frequencies resemble natural text.
public enum SyntheticCorpus {
    /// The number of sentences examples use by default: about 3 MB of text (47 bytes a sentence).
    public static let defaultSentences = 64_000
    /// Changes whenever the generated text changes (v2: drawn from Philox); cached copies of the
    /// corpus carry it in their file names.
    public static let version = "v2"

    /// `sentences` sentences separated by spaces, in paragraphs of 3 to 8 sentences ending with
    /// a newline. The same seed always gives the same text.
    public static func generate(sentences: Int = defaultSentences, seed: UInt64) -> String {
        precondition(sentences >= 0, "SyntheticCorpus.generate: sentences \(sentences) must not be negative")
        var generator = SyntheticGrammar(seed: seed)
        var text = ""
        text.reserveCapacity(sentences * 50)
        var paragraphLeft = generator.paragraphLength()
        for i in 0..<sentences {
            text += generator.sentence()
            paragraphLeft -= 1
            if paragraphLeft == 0 || i == sentences - 1 {
                text += "\n"
                paragraphLeft = generator.paragraphLength()
            } else {
                text += " "
            }
        }
        return text
    }
}
