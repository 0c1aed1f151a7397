import Foundation
import Tensor
import XCTest
@testable import NN

final class DataTests: XCTestCase {
    // MARK: Helpers

    /// A fresh directory, removed after the test.
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("sketchgrad-data-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in UInt8(rng.nextInt(below: 256)) }
    }

    private func chunks(of text: String) -> [String] {
        let bytes = Array(text.utf8)
        var result = [String]()
        bytes.withUnsafeBufferPointer { buffer in
            PreTokenizer.forEachChunk(in: buffer) { result.append(String(decoding: buffer[$0], as: UTF8.self)) }
        }
        return result
    }

    private func assertThrowsDataError(_ expression: @autoclosure () throws -> Any,
                                       _ expected: (DataError) -> Bool,
                                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let dataError = error as? DataError else {
                return XCTFail("expected a DataError, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(expected(dataError), "unexpected \(dataError)", file: file, line: line)
            XCTAssertFalse(dataError.description.contains("\n"), "message spans lines", file: file, line: line)
        }
    }

    private static let multilingual = """
        The quick brown fox jumps over the lazy dog. It's 2024; we'll see 42 apples!!
        Café naïve — résumé. 日本語のテキストと中文文本。 Emoji: 😀🎉👍🏽 and 🇫🇷 flags.
        \tTabs,  double  spaces,\r\nCRLF lines...\n\n\nand "quotes" (parens) [brackets] {braces}.
        """

    // MARK: Pre-tokenizer

    func testPreTokenizerSplitsWordsNumbersPunctuationAndWhitespace() {
        XCTAssertEqual(chunks(of: "Hello world's  42 apples!!\n\nOk"),
                       ["Hello", " world", "'s", " ", " 42", " apples", "!!", "\n", "\n", "Ok"])
        XCTAssertEqual(chunks(of: "don't stop, they'll go  "), ["don", "'t", " stop", ",", " they", "'ll", " go", "  "])
        XCTAssertEqual(chunks(of: " café日本 x"), [" café日本", " x"])
    }

    func testPreTokenizerChunksTileTheInput() {
        for seed in 0..<20 as Range<UInt64> {
            let bytes = randomBytes(count: 500, seed: seed)
            var next = 0
            bytes.withUnsafeBufferPointer { buffer in
                PreTokenizer.forEachChunk(in: buffer) { range in
                    XCTAssertEqual(range.lowerBound, next)
                    XCTAssertFalse(range.isEmpty)
                    next = range.upperBound
                }
            }
            XCTAssertEqual(next, bytes.count)
        }
    }

    // MARK: Tokenizer

    func testRoundTripOnUnicodeText() {
        let tokenizer = BPETokenizer.train(text: Self.multilingual + SyntheticCorpus.generate(sentences: 100, seed: 3),
                                           vocabSize: 600)
        let samples = [Self.multilingual, "", " ", "日本語", "👍🏽👍🏽👍🏽", "naïve café", "a\u{0}b\u{7F}",
                       "unseen words: zyxwvut ÆØÅ ἀρχή"]
        for text in samples {
            let ids = tokenizer.encode(text)
            XCTAssertEqual(tokenizer.decode(ids), text)
            XCTAssertEqual(tokenizer.decodeBytes(tokenizer.encode(bytes: Array(text.utf8))), Array(text.utf8))
            XCTAssertTrue(ids.allSatisfy { 0 <= $0 && Int($0) < tokenizer.vocabSize })
        }
        let english = SyntheticCorpus.generate(sentences: 20, seed: 99)
        XCTAssertLessThan(tokenizer.encode(english).count, english.utf8.count / 2,
                          "a tokenizer trained on text like this should compress it")
    }

    func testRoundTripOnInvalidUTF8ThroughByteFallback() {
        let tokenizer = BPETokenizer.train(bytes: randomBytes(count: 4000, seed: 1) + Array(Self.multilingual.utf8),
                                           vocabSize: 400)
        for seed in 2..<12 as Range<UInt64> {
            let bytes = randomBytes(count: 1000, seed: seed)
            XCTAssertEqual(tokenizer.decodeBytes(tokenizer.encode(bytes: bytes)), bytes)
        }
        // A lone continuation byte and a truncated character decode lossily, as U+FFFD.
        let invalid: [UInt8] = [0x41, 0x80, 0x42, 0xE6, 0x97]
        XCTAssertEqual(tokenizer.decodeBytes(tokenizer.encode(bytes: invalid)), invalid)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(bytes: invalid)), "A\u{FFFD}B\u{FFFD}")
    }

    func testTrainingReachesTheRequestedVocabulary() {
        let text = SyntheticCorpus.generate(sentences: 200, seed: 5)
        XCTAssertEqual(BPETokenizer.train(text: text, vocabSize: 256).vocabSize, 256)
        XCTAssertEqual(BPETokenizer.train(text: text, vocabSize: 700).vocabSize, 700)
    }

    func testTrainingStopsEarlyWhenNoPairIsLeft() {
        // Chunks "ab" and " ab" allow exactly two merges: (a, b), then (" ", ab).
        let tokenizer = BPETokenizer.train(text: "ab ab ab", vocabSize: 1000)
        XCTAssertEqual(tokenizer.vocabSize, 258)
        XCTAssertEqual(tokenizer.encode("ab ab"), [256, 257])
        XCTAssertEqual(BPETokenizer.train(text: "ab ab ab", vocabSize: 1000, minPairCount: 3).vocabSize, 257)
    }

    func testTrainingMergesTheMostFrequentPairFirstAndBreaksTiesBySmallestIDs() {
        let a = Int32(UInt8(ascii: "a")), b = Int32(UInt8(ascii: "b"))
        let x = Int32(UInt8(ascii: "x")), y = Int32(UInt8(ascii: "y"))
        // (x, y) occurs 3 times, (y, x) twice, everything else once.
        let tokenizer = BPETokenizer.train(text: "xyxyxy ab", vocabSize: 257)
        XCTAssertEqual(tokenizer.merges, [BPETokenizer.Merge(left: x, right: y, result: 256)])
        // All pairs tie at one occurrence: the smallest (left, right) wins, first (" ", a), then
        // (b, a) before (" a", b).
        let tie = BPETokenizer.train(text: "ba ab", vocabSize: 258)
        XCTAssertEqual(tie.merges, [BPETokenizer.Merge(left: 32, right: a, result: 256), BPETokenizer.Merge(left: b, right: a, result: 257)])
    }

    func testTrainingAndEncodingMatchTheReferenceImplementation() {
        let text = Array((SyntheticCorpus.generate(sentences: 60, seed: 11) + Self.multilingual).utf8)
        let tokenizer = BPETokenizer.train(bytes: text, vocabSize: 500)
        XCTAssertEqual(tokenizer.merges, ReferenceBPE.train(text, vocabSize: 500))
        let other = Array(SyntheticCorpus.generate(sentences: 30, seed: 12).utf8) + randomBytes(count: 300, seed: 4)
        XCTAssertEqual(tokenizer.encode(bytes: other), ReferenceBPE.encode(other, merges: tokenizer.merges))
    }

    func testTrainingIsDeterministic() {
        let text = SyntheticCorpus.generate(sentences: 150, seed: 8)
        XCTAssertEqual(BPETokenizer.train(text: text, vocabSize: 600), BPETokenizer.train(text: text, vocabSize: 600))
    }

    func testSaveAndLoadGiveIdenticalEncodings() throws {
        let directory = try temporaryDirectory()
        let tokenizer = BPETokenizer.train(text: Self.multilingual + SyntheticCorpus.generate(sentences: 100, seed: 2),
                                           vocabSize: 500)
        let url = directory.appendingPathComponent("tokenizer.json")
        try tokenizer.save(to: url)
        let loaded = try BPETokenizer.load(from: url)
        XCTAssertEqual(loaded, tokenizer)
        XCTAssertEqual(loaded.vocabSize, 500)
        let sample = SyntheticCorpus.generate(sentences: 50, seed: 77) + Self.multilingual
        XCTAssertEqual(loaded.encode(sample), tokenizer.encode(sample))
    }

    func testBadTokenizerFilesThrowOneLineNamingFileAndProblem() throws {
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("tokenizer.json")
        func write(_ text: String) throws { try Data(text.utf8).write(to: url) }
        let bytes = (0..<256).map { "\(jsonString(String(ByteLevelAlphabet.scalars[$0]))):\($0)" }.joined(separator: ",")
        let byteLevel = #"{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}"#
        func bpe(vocab: String = bytes, merges: String = "[]", preTokenizer: String = byteLevel) -> String {
            #"{"pre_tokenizer":\#(preTokenizer),"model":{"type":"BPE","vocab":{\#(vocab)},"merges":\#(merges)}}"#
        }

        try write("{ not json")
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0 == .corrupt(path: url.path, reason: "not a JSON object") }
        try write(#"{"model":{"type":"Unigram","vocab":[["a",0.0]]}}"#)
        assertThrowsDataError(try BPETokenizer.load(from: url)) {
            $0.description.hasPrefix(url.path) && $0.description.contains("tokenizer model is Unigram")
                && $0.description.contains("supported: byte-level BPE")
        }
        try write(#"{"model":{"type":"WordPiece","vocab":{"a":0}}}"#)
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("tokenizer model is WordPiece") }
        try write(bpe(merges: #"["a zz"]"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("merge 0 names unknown token \"zz\"") }
        try write(bpe(merges: #"["a"]"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("merge 0 is not a pair") }
        try write(bpe(merges: #"["a b"]"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("creates \"ab\", which is not in the vocab") }
        try write(bpe(vocab: #""a":0,"b":1"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("not a byte-level BPE") }
        try write(bpe(preTokenizer: #"{"type":"Metaspace","replacement":"▁"}"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("pre-tokenizer Metaspace") }
        try write(bpe(preTokenizer: "null"))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("no ByteLevel pre-tokenizer") }
        try write(bpe(preTokenizer: #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{Han}+"},"behavior":"Isolated","invert":false},\#(byteLevel)]}"#))
        assertThrowsDataError(try BPETokenizer.load(from: url)) { $0.description.contains("Unicode property 'Han' is not supported") }
        // A minimal valid file loads: byte tokens only, every byte encodes to its own token.
        try write(bpe(vocab: bytes + #","ab":256"#, merges: #"[["a","b"]]"#))
        let loaded = try BPETokenizer.load(from: directory)
        XCTAssertEqual(loaded.encode("ab a"), [256, 32, 97])
        assertThrowsDataError(try BPETokenizer.load(from: directory.appendingPathComponent("absent.json"))) {
            $0 == .fileNotFound(path: directory.appendingPathComponent("absent.json").path)
        }
    }

    func testLoadOrTrainCachesTheTokenizer() throws {
        let directory = try temporaryDirectory()
        let textFile = directory.appendingPathComponent("corpus.txt")
        try Data(SyntheticCorpus.generate(sentences: 100, seed: 4).utf8).write(to: textFile)
        let cacheDirectory = directory.appendingPathComponent("cache")
        let trained = try BPETokenizer.loadOrTrain(textFile: textFile, vocabSize: 400, cacheDirectory: cacheDirectory)
        let files = try FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path)
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasPrefix("tokenizer-") && files[0].hasSuffix("-400.json"), files[0])
        // A tampered cache must be the one loaded, proving the second call does not retrain.
        let tampered = BPETokenizer(merges: Array(trained.merges.prefix(10)))
        try tampered.save(to: cacheDirectory.appendingPathComponent(files[0]))
        XCTAssertEqual(try BPETokenizer.loadOrTrain(textFile: textFile, vocabSize: 400, cacheDirectory: cacheDirectory),
                       tampered)
        // A corrupt cache is retrained and replaced.
        try Data("garbage".utf8).write(to: cacheDirectory.appendingPathComponent(files[0]))
        XCTAssertEqual(try BPETokenizer.loadOrTrain(textFile: textFile, vocabSize: 400, cacheDirectory: cacheDirectory),
                       trained)
        XCTAssertEqual(try BPETokenizer.load(from: cacheDirectory.appendingPathComponent(files[0])), trained)
    }

    // MARK: Synthetic corpus

    func testSyntheticCorpusIsDeterministicPerSeed() {
        let a = SyntheticCorpus.generate(sentences: 300, seed: 1)
        XCTAssertEqual(a, SyntheticCorpus.generate(sentences: 300, seed: 1))
        XCTAssertNotEqual(a, SyntheticCorpus.generate(sentences: 300, seed: 2))
        XCTAssertTrue(a.hasSuffix("\n"))
        let words = Set(a.split(whereSeparator: { !$0.isLetter }).map { $0.lowercased() })
        XCTAssertGreaterThan(words.count, 200, "the corpus should use a few hundred distinct words")
        XCTAssertGreaterThan(a.utf8.count, 300 * 30)
    }

    // MARK: Dataset

    private func countingDataset(_ count: Int = 1000, validationFraction: Double = 0.1) -> TokenDataset {
        TokenDataset(tokens: (0..<Int32(count)).map { $0 }, validationFraction: validationFraction)
    }

    func testBatchTargetsAreInputsShiftedByOne() {
        let dataset = countingDataset()
        var rng = RNG(seed: 3)
        let batch = dataset.batch(size: 8, seq: 16, rng: &rng)
        XCTAssertEqual(batch.inputs.count, 8 * 16)
        XCTAssertEqual(batch.targets.count, 8 * 16)
        for row in 0..<8 {
            for t in 0..<16 {
                // Tokens count up, so a window is consecutive integers and a target is input + 1.
                XCTAssertEqual(batch.targets[row * 16 + t], batch.inputs[row * 16 + t] + 1)
                if t > 0 { XCTAssertEqual(batch.inputs[row * 16 + t], batch.inputs[row * 16 + t - 1] + 1) }
            }
        }
    }

    func testSplitIsDeterministicAndDisjoint() {
        let dataset = countingDataset()
        XCTAssertEqual(dataset.trainTokens, Array(0..<900))
        XCTAssertEqual(dataset.validationTokens, Array(900..<1000))
        var rng = RNG(seed: 9)
        for _ in 0..<50 {
            let train = dataset.batch(size: 4, seq: 32, split: .train, rng: &rng)
            XCTAssertTrue(train.targets.allSatisfy { $0 < 900 })
            let validation = dataset.batch(size: 4, seq: 32, split: .validation, rng: &rng)
            XCTAssertTrue(validation.inputs.allSatisfy { $0 >= 900 })
        }
        let separate = TokenDataset(train: [1, 2, 3], validation: [7, 8])
        XCTAssertEqual(separate.tokens(.train), [1, 2, 3])
        XCTAssertEqual(separate.tokens(.validation), [7, 8])
    }

    func testSameRNGStateGivesSameBatch() {
        let dataset = countingDataset()
        var rng = RNG(seed: 42, stream: 5)
        var copy = rng
        let first = dataset.batch(size: 6, seq: 10, rng: &rng)
        XCTAssertEqual(rng.counter, 6)
        let replay = dataset.batch(size: 6, seq: 10, rng: &copy)
        XCTAssertEqual(first.inputs, replay.inputs)
        XCTAssertEqual(first.targets, replay.targets)
        XCTAssertNotEqual(dataset.batch(size: 6, seq: 10, rng: &rng).inputs, first.inputs)
    }

    func testEvaluationBatchesAreFixedConsecutiveWindows() {
        let dataset = countingDataset()
        // 100 validation tokens: (100 - 1) / 10 = 9 windows, in batches of 4, 4 and 1.
        XCTAssertEqual(dataset.evaluationWindowCount(seq: 10), 9)
        let batches = dataset.evaluationBatches(size: 4, seq: 10)
        XCTAssertEqual(batches.map { $0.inputs.count }, [40, 40, 10])
        XCTAssertEqual(batches.flatMap { $0.inputs }, Array(900..<990))
        XCTAssertEqual(batches.flatMap { $0.targets }, Array(901..<991))
        let again = dataset.evaluationBatches(size: 4, seq: 10)
        XCTAssertEqual(again.map { $0.inputs }, batches.map { $0.inputs })
        XCTAssertEqual(dataset.evaluationBatches(size: 4, seq: 10, maxBatches: 2).count, 2)
        XCTAssertEqual(dataset.evaluationBatches(size: 2, seq: 100, split: .train).first?.inputs, Array(0..<200))
    }

    func testValidateRejectsSplitsShorterThanOneWindow() throws {
        let dataset = countingDataset()
        try dataset.validate(seq: 99)
        assertThrowsDataError(try dataset.validate(seq: 100)) {
            $0 == .tooShort(source: "tokens", split: "validation", tokens: 100, sequenceLength: 100)
        }
        try dataset.validate(seq: 100, splits: [.train])
    }

    func testTokenCacheHitReturnsIdenticalTokensAndSurvivesCorruption() throws {
        let directory = try temporaryDirectory()
        let textFile = directory.appendingPathComponent("corpus.txt")
        let text = SyntheticCorpus.generate(sentences: 200, seed: 6)
        try Data(text.utf8).write(to: textFile)
        let tokenizer = BPETokenizer.train(text: text, vocabSize: 400)

        let first = try TokenDataset.load(textFile: textFile, tokenizer: tokenizer)
        let cacheFiles = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".bin") }
        XCTAssertEqual(cacheFiles.count, 1)
        XCTAssertTrue(cacheFiles[0].hasPrefix("corpus.txt.tokens-"), cacheFiles[0])
        let cacheFile = directory.appendingPathComponent(cacheFiles[0])

        let second = try TokenDataset.load(textFile: textFile, tokenizer: tokenizer)
        XCTAssertEqual(second.trainTokens, first.trainTokens)
        XCTAssertEqual(second.validationTokens, first.validationTokens)
        XCTAssertEqual(first.trainTokens + first.validationTokens, tokenizer.encode(text))

        // Flip one token byte: the checksum rejects the cache, which is rebuilt.
        var bytes = [UInt8](try Data(contentsOf: cacheFile))
        bytes[40] ^= 0xFF
        try Data(bytes).write(to: cacheFile)
        XCTAssertEqual(try tokenizer.encode(contentsOf: textFile), tokenizer.encode(text))
        XCTAssertEqual([UInt8](try Data(contentsOf: cacheFile)).count, bytes.count)
        XCTAssertNotEqual([UInt8](try Data(contentsOf: cacheFile)), bytes)

        // A truncated cache too.
        try Data(bytes.prefix(10)).write(to: cacheFile)
        XCTAssertEqual(try tokenizer.encode(contentsOf: textFile), tokenizer.encode(text))

        // Another tokenizer has another key, so it never reads this cache.
        let other = BPETokenizer.train(text: text, vocabSize: 300)
        XCTAssertEqual(try other.encode(contentsOf: textFile, cacheDirectory: directory), other.encode(text))
    }

    func testLoadingMissingEmptyOrDirectoryPathsThrowsDataError() throws {
        let directory = try temporaryDirectory()
        let tokenizer = BPETokenizer(merges: [])
        let missing = directory.appendingPathComponent("missing.txt")
        assertThrowsDataError(try TokenDataset.load(textFile: missing, tokenizer: tokenizer)) {
            $0 == .fileNotFound(path: missing.path) && $0.description == "\(missing.path): file not found"
        }
        let empty = directory.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        assertThrowsDataError(try TokenDataset.load(textFile: empty, tokenizer: tokenizer)) { $0 == .emptyFile(path: empty.path) }
        assertThrowsDataError(try BPETokenizer.loadOrTrain(textFile: empty, vocabSize: 300)) { $0 == .emptyFile(path: empty.path) }
        assertThrowsDataError(try TokenDataset.load(textFile: directory, tokenizer: tokenizer)) {
            $0 == .notAFile(path: directory.path)
        }
        let short = directory.appendingPathComponent("short.txt")
        try Data("tiny".utf8).write(to: short)
        let dataset = try TokenDataset.load(textFile: short, tokenizer: tokenizer, validationFraction: 0)
        assertThrowsDataError(try dataset.validate(seq: 8, splits: [.train])) {
            $0.description.hasPrefix(short.path) && $0.description.contains("4 tokens")
        }
    }

    // MARK: Real text

    func testShakespearePrefixRoundTrips() throws {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = packageRoot.appendingPathComponent("../shared/data/shakespeare-train.txt").standardizedFileURL
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw XCTSkip("\(file.path) is absent; the Shakespeare round trip needs it")
        }
        let bytes = Array(try Data(contentsOf: file).prefix(500_000))
        let tokenizer = BPETokenizer.train(bytes: bytes, vocabSize: 2000)
        XCTAssertEqual(tokenizer.vocabSize, 2000)
        let ids = tokenizer.encode(bytes: bytes)
        XCTAssertEqual(tokenizer.decodeBytes(ids), bytes)
        XCTAssertLessThan(ids.count, bytes.count * 2 / 5, "2,000 tokens should compress English at least 2.5×")
    }
}
