import Foundation
import Tensor
import XCTest
@testable import NN

/// tokenizer.json in both directions and the regex engine behind imported pre-tokenizers.
/// (.ci/run also checks these files against Hugging Face `tokenizers` itself.)
final class HuggingFaceTokenizerTests: XCTestCase {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-hf-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func matches(_ pattern: String, _ text: String) throws -> [String] {
        let regex = try TokenRegex(pattern)
        let scalars = Array(text.unicodeScalars)
        var out: [String] = []
        regex.forEachMatch(in: scalars) { range in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            out.append(String(s))
        }
        return out
    }

    /// Text of random scalars drawn from the classes the pre-tokenizers care about.
    private func randomText(seed: UInt64, count: Int) -> String {
        var rng = RNG(seed: seed, stream: 0x7E47)
        let pools: [[Unicode.Scalar]] = [
            Array("abcXYZ ſK".unicodeScalars), Array("0123456789".unicodeScalars), Array(" \t\n\r\u{0B}\u{0C}".unicodeScalars),
            Array("'!?.,-_\"(){}[]<>|\\/`~#$%^&*".unicodeScalars), Array("éßİı日本語€①٣\u{A0}\u{3000}\u{2028}\u{85}\u{1C}\u{200B}\u{301}".unicodeScalars),
            Array("😀🎉👍🏽🇫🇷".unicodeScalars), [Unicode.Scalar(0)!, Unicode.Scalar(0x7F)!, Unicode.Scalar(0x1F)!],
            Array("'s're've'll'd'm't'S'RE".unicodeScalars),
        ]
        var s = String.UnicodeScalarView()
        for _ in 0..<count {
            let pool = pools[rng.nextInt(below: pools.count)]
            s.append(pool[rng.nextInt(below: pool.count)])
        }
        return String(s)
    }

    // MARK: Regex engine

    func testGPT2PatternSplitsLikeTokenizers() throws {
        // Expected splits as Hugging Face's ByteLevel pre-tokenizer gives them.
        XCTAssertEqual(try matches(TextPipeline.gpt2Pattern, "Hello world's  42 apples!!\n\nOk"),
                       ["Hello", " world", "'s", " ", " 42", " apples", "!!", "\n", "\n", "Ok"])
        XCTAssertEqual(try matches(TextPipeline.gpt2Pattern, "naïve €100\u{A0}x  "), ["naïve", " €", "100", "\u{A0}", "x", "  "])
    }

    func testLlama3PatternFeatures() throws {
        let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        XCTAssertEqual(try matches(llama3, "It'S 12345 apples!!\n\n  ok"),
                       ["It", "'S", " ", "123", "45", " apples", "!!\n\n", " ", " ok"])
        // Case-insensitive contractions fold the long s, as Oniguruma does.
        XCTAssertEqual(try matches(llama3, "'ſ"), ["'ſ"])
    }

    func testRegexConstructs() throws {
        XCTAssertEqual(try matches("a+?b", "aaab"), ["aaab"])
        XCTAssertEqual(try matches("a{2,3}", "aaaaaaa"), ["aaa", "aaa"])
        XCTAssertEqual(try matches("x(?=y)", "xyxz"), ["x"])
        XCTAssertEqual(try matches("(?:ab)+", "ababa ab"), ["abab", "ab"])
        XCTAssertEqual(try matches(#"[\x{41}-C\d]+"#, "ABCD12"), ["ABC", "12"])
        XCTAssertEqual(try matches(#"\p{Lu}\p{Ll}*"#, "HelloWorld"), ["Hello", "World"])
        XCTAssertEqual(try matches(#"\w+"#, "a_b1 c"), ["a_b1", "c"])
        for bad in ["(a", "a)", "[a", #"\p{Han}"#, "^a", "a++", #"\h"#, "[[a]]", "(?<n>a)"] {
            XCTAssertThrowsError(try TokenRegex(bad), bad)
        }
    }

    /// Sketchgrad's pre-tokenizer as a regex (what tokenizer.json gives Hugging Face) cuts every
    /// valid UTF-8 text exactly like the byte scanner.
    func testNativePatternAgreesWithTheByteScanner() throws {
        var texts = (0..<40).map { randomText(seed: UInt64($0), count: 300) }
        texts += ["", " ", "  x", "x  ", "\t x", " \t\ny", "don't  'sx '' ' s", SyntheticCorpus.generate(sentences: 50, seed: 1)]
        for text in texts {
            var scanned: [[UInt8]] = []
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { buffer in
                PreTokenizer.forEachChunk(in: buffer) { scanned.append(Array(buffer[$0])) }
            }
            var viaRegex: [[UInt8]] = []
            TextPipeline.native.chunks(Array(text.unicodeScalars)) { viaRegex.append($0) }
            XCTAssertEqual(viaRegex, scanned, "text: \(text.debugDescription)")
        }
    }

    // MARK: tokenizer.json

    func testSavedTokenizerJSONLoadsBackIdentically() throws {
        let dir = try temporaryDirectory()
        let text = SyntheticCorpus.generate(sentences: 200, seed: 3) + "café 日本語 😀 it's 12345 <|endoftext|> x\n"
        let tokenizer = BPETokenizer.train(text: text, vocabSize: 600, specialTokens: [BPETokenizer.endOfText])
        XCTAssertEqual(tokenizer.vocabSize, 600)
        XCTAssertEqual(tokenizer.endOfSequence, 599)
        try tokenizer.saveHuggingFace(in: dir, modelMaxLength: 256)
        let loaded = try BPETokenizer.load(from: dir)
        XCTAssertEqual(loaded, tokenizer)
        XCTAssertTrue(loaded.usesByteScanner, "Sketchgrad's own pattern should select the byte scanner")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        XCTAssertEqual(config["eos_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(config["model_max_length"] as? Int, 256)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))) as! [String: Any]
        let model = json["model"] as! [String: Any]
        XCTAssertEqual(model["type"] as? String, "BPE")
        XCTAssertEqual((model["vocab"] as! [String: Any])["Ġ"] as? Int, 32, "space is Ġ in the byte-level alphabet")
        XCTAssertEqual((model["merges"] as! [Any]).count, tokenizer.merges.count)

        // The regex path (as for an imported file) gives the same ids as the byte scanner.
        let viaRegex = BPETokenizer(byteTokens: tokenizer.byteTokens, merges: tokenizer.merges, tokenBytes: tokenizer.tokenBytes,
                                    addedTokens: tokenizer.addedTokens, pipeline: .native, ignoreMerges: false,
                                    endOfSequence: tokenizer.endOfSequence, documentPrefix: [])
        for seed in 0..<10 as Range<UInt64> {
            let sample = randomText(seed: 100 + seed, count: 400) + "<|endoftext|>" + SyntheticCorpus.generate(sentences: 5, seed: seed)
            XCTAssertEqual(TokenizerAccess.regexEncode(viaRegex, sample), tokenizer.encode(sample))
        }
    }

    func testSpecialTokensAreCutOutBeforeMerging() {
        let tokenizer = BPETokenizer.train(text: String(repeating: "ab<|endoftext|>ab ", count: 50), vocabSize: 300,
                                           specialTokens: [BPETokenizer.endOfText])
        let eos = tokenizer.endOfSequence!
        let ids = tokenizer.encode("ab<|endoftext|>ab")
        XCTAssertEqual(ids.filter { $0 == eos }.count, 1)
        XCTAssertEqual(tokenizer.decode(ids), "ab<|endoftext|>ab")
        XCTAssertFalse(tokenizer.merges.contains { tokenizer.decodeBytes([$0.result]).contains(UInt8(ascii: "|")) },
                       "no merge may learn from inside the special token")
        XCTAssertEqual(tokenizer.encodeDocument("ab"), tokenizer.encode("ab") + [eos])
    }
}

/// Forces the regex pipeline on a tokenizer whose pipeline is the native one.
enum TokenizerAccess {
    static func regexEncode(_ tokenizer: BPETokenizer, _ text: String) -> [Int32] {
        var out: [Int32] = []
        let splitter = AddedTokenSplitter(tokenizer.addedTokens.map { (Array($0.content.unicodeScalars), $0) })
        let scalars = Array(text.unicodeScalars)
        splitter.split(scalars, gap: { gap in
            tokenizer.pipeline.chunks(Array(gap)) { chunk in
                chunk.withUnsafeBufferPointer { out += $0.count == 1 ? [tokenizer.byteTokens[Int($0[0])]] : tokenizer.encodeChunk($0) }
            }
        }, match: { out.append($0) })
        return out
    }
}
