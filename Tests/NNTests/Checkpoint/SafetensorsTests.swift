import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// A fresh empty directory under the system temporary directory, removed by the test's teardown.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-ckpt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Same shape and bits.
func assertBitIdentical(_ a: Tensor, _ b: Tensor, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
    XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), message, file: file, line: line)
}

final class SafetensorsTests: XCTestCase {
    /// A raw file: 8-byte length, `header` verbatim, then `data`.
    func rawFile(_ header: String, _ data: [UInt8] = []) -> Data {
        let h = Array(header.utf8)
        return Data(withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + data)
    }

    func assertInvalid(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(data: data, path: "bad.safetensors"), file: file, line: line) { error in
            guard case CheckpointError.invalidFormat(let path, let reason) = error else {
                return XCTFail("expected invalidFormat, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, "bad.safetensors", file: file, line: line)
            XCTAssertTrue(reason.contains(fragment), "'\(reason)' should mention '\(fragment)'", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), "error description must be one line", file: file, line: line)
        }
    }

    func testRoundTripPreservesEveryDTypeShapeAndMetadata() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("t.safetensors")
        let matrix = randomTensor([3, 5], seed: 1)
        var special = Tensor([0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        special[4] = Float(bitPattern: 0x7FC0_1234) // a NaN payload must survive too
        var w = SafetensorsWriter(metadata: ["note": "quote \" and \\ and \n and é"])
        w.add("a.matrix", matrix)
        w.add("special", special)
        w.add("scalar", Tensor(scalar: 2.5))
        w.add("empty", Tensor.zeros([0, 4]))
        w.add("ids32", int32: [1, -2, .max, .min], shape: [2, 2])
        w.add("ids64", int64: [.max, .min, 0], shape: [3])
        w.add("name \"quoted\"/ü", Tensor([1]))
        try w.write(to: url)

        let f = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(Set(f.names), Set(w.names))
        XCTAssertEqual(f.metadata, ["note": "quote \" and \\ and \n and é"])
        assertBitIdentical(try f.floatTensor("a.matrix"), matrix)
        assertBitIdentical(try f.floatTensor("special"), special)
        assertBitIdentical(try f.floatTensor("scalar"), Tensor(scalar: 2.5))
        XCTAssertEqual(try f.floatTensor("scalar").shape, [])
        XCTAssertEqual(try f.floatTensor("empty").shape, [0, 4])
        XCTAssertEqual(try f.int32Values("ids32"), [1, -2, .max, .min])
        XCTAssertEqual(f.entry("ids32")?.shape, [2, 2])
        XCTAssertEqual(f.entry("ids32")?.dtype, .i32)
        XCTAssertEqual(try f.int64Values("ids64"), [.max, .min, 0])
        XCTAssertEqual(try f.int64Values("ids32"), [1, -2, Int64(Int32.max), Int64(Int32.min)])
        assertBitIdentical(try f.floatTensor("name \"quoted\"/ü"), Tensor([1]))
        // The in-memory encoding is the same file.
        XCTAssertEqual(try Data(contentsOf: url), w.encoded())
        // Data starts 8-byte aligned, as the reference implementation lays it out.
        let headerLength = try Data(contentsOf: url).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual((8 + headerLength) % 8, 0)
    }

    func testReadsHalfAndBFloat16AndRefusesOtherDTypesByName() throws {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, smallest subnormal 2⁻²⁴ = 0x0001, inf = 0x7C00.
        // BF16: 1.0 = 0x3F80, -0.5 = 0xBF00.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7C00]
        let bf16: [UInt16] = [0x3F80, 0xBF00]
        let bytes = (f16 + bf16).flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } + [UInt8](repeating: 0, count: 8)
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"d":{"dtype":"F64","shape":[1],"data_offsets":[12,20]}}"#
        let f = try SafetensorsFile(data: rawFile(header, bytes), path: "half.safetensors")
        XCTAssertEqual(try f.floatTensor("h").scalars, [1, -2, Float(sign: .plus, exponent: -24, significand: 1), .infinity])
        XCTAssertEqual(try f.floatTensor("b").scalars, [1, -0.5])
        XCTAssertThrowsError(try f.floatTensor("d")) { error in
            XCTAssertEqual(error as? CheckpointError,
                           .unsupportedDType(path: "half.safetensors", name: "d", dtype: "F64", expected: "F32, F16 or BF16"))
        }
        XCTAssertThrowsError(try f.int64Values("h")) { XCTAssertTrue("\($0)".contains("'h' has dtype F16")) }
        XCTAssertThrowsError(try f.floatTensor("nope")) {
            XCTAssertEqual($0 as? CheckpointError, .missingTensor(path: "half.safetensors", name: "nope"))
        }
    }

    func testRejectsTruncatedFile() throws {
        var w = SafetensorsWriter()
        w.add("x", randomTensor([4, 4], seed: 2))
        let good = w.encoded()
        XCTAssertNoThrow(try SafetensorsFile(data: good, path: "bad.safetensors"))
        assertInvalid(good.prefix(good.count - 1), "data_offsets [0, 64] outside the 63-byte data buffer")
        assertInvalid(good + Data([0, 0]), "the last 2 bytes of the data buffer belong to no tensor")
        assertInvalid(good.prefix(20), "exceeds")
        assertInvalid(good.prefix(5), "too short")
        assertInvalid(Data(), "too short")
        // Also through the file API: the path is named.
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("cut.safetensors")
        try good.prefix(good.count - 3).write(to: url)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix(url.path + ": not a valid safetensors file"), "\(error)")
        }
    }

    func testRejectsCorruptedHeaders() {
        let data8 = [UInt8](repeating: 0, count: 8)
        assertInvalid(rawFile("{\"x\": {\"dtype\": \"F32\"", data8), "not valid JSON")
        assertInvalid(rawFile("[1, 2]", data8), "does not start with '{'")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, data8), "outside the 8-byte data buffer")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}}"#, data8), "outside")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data8), "overlaps")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data8), "bytes 0..<4 of the data buffer belong to no tensor")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data8), "has 8 bytes, but shape [3] of F32 needs 12")
        assertInvalid(rawFile(#"{"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data8), "unknown dtype 'Q4'")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data8), "negative dimension")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data8), "'shape' is missing or not a list of integers")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2]}}"#, data8), "'data_offsets' is missing")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, data8), "must be [begin, end]")
        assertInvalid(rawFile(#"{"x":[1]}"#, data8), "entry 'x' is not an object")
        assertInvalid(rawFile(#"{"__metadata__":{"a":1}}"#), "__metadata__ must map strings to strings")
        assertInvalid(rawFile(#"{"x":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,8]}}"#, data8), "more than Int.max")
        // A repeated key must not crash; parsers either keep one entry (then coverage fails) or reject it.
        XCTAssertThrowsError(try SafetensorsFile(data: rawFile(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data8), path: "dup"))
        // Huge header length: refused before any allocation.
        var huge = Data(withUnsafeBytes(of: UInt64.max.littleEndian, Array.init))
        huge.append(contentsOf: Array("{}".utf8))
        assertInvalid(huge, "exceeds the 100000000-byte limit")
        var long = Data(withUnsafeBytes(of: UInt64(1000).littleEndian, Array.init))
        long.append(contentsOf: Array("{}".utf8))
        assertInvalid(long, "header length 1000 exceeds the 2 bytes after it")
    }

    func testMissingFileAndDirectoryAreClearErrors() throws {
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors"))) {
            XCTAssertEqual($0 as? CheckpointError, .fileNotFound(path: "/nonexistent/x.safetensors"))
            XCTAssertEqual("\($0)", "/nonexistent/x.safetensors: file not found")
        }
        let dir = try makeTemporaryDirectory(self)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: dir)) { XCTAssertTrue("\($0)".contains("is a directory")) }
    }

    func testEmptyFileWithOnlyMetadataIsValid() throws {
        let f = try SafetensorsFile(data: SafetensorsWriter(metadata: ["k": "v"]).encoded(), path: "m")
        XCTAssertEqual(f.names, [])
        XCTAssertEqual(f.metadata, ["k": "v"])
    }
}

final class CheckpointAtomicWriteTests: XCTestCase {
    struct Injected: Error {}

    func testFailureMidwayLeavesPreviousFileIntactAndNoTemporary() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        var old = SafetensorsWriter()
        old.add("w", Tensor([1, 2, 3]))
        try old.write(to: url)
        let before = try Data(contentsOf: url)

        var new = SafetensorsWriter()
        new.add("w", randomTensor([64, 64], seed: 3))
        XCTAssertThrowsError(try writeAtomically(to: url) { writer in
            try new.write(into: &writer) // the whole new file reaches the temporary...
            XCTAssertGreaterThan(writer.bytesWritten, 16_000)
            throw Injected() // ...and then the save fails before the rename
        }) { XCTAssertTrue($0 is Injected) }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])

        // A successful write replaces it and leaves nothing else behind.
        try new.write(to: url)
        assertBitIdentical(try SafetensorsFile(contentsOf: url).floatTensor("w"), randomTensor([64, 64], seed: 3))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
    }

    func testUnwritableDestinationIsAClearError() throws {
        let url = URL(fileURLWithPath: "/nonexistent-dir/model.safetensors")
        XCTAssertThrowsError(try SafetensorsWriter().write(to: url)) { error in
            XCTAssertEqual("\(error)", "/nonexistent-dir/model.safetensors: cannot be written (directory /nonexistent-dir does not exist); any previous file is unchanged")
        }
        // A directory in the way of the rename: the rename fails, the directory survives.
        let dir = try makeTemporaryDirectory(self)
        let blocker = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("inner"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeAtomically(Data([1, 2, 3]), to: blocker)) { XCTAssertTrue("\($0)".contains("rename")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["taken"])
    }
}
