import Autograd
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

/// What a safetensors reader must refuse even though a JSON decoder would let it through:
/// repeated keys, checksums that do not match, and shard maps that disagree with the shards.
final class SafetensorsValidationTests: XCTestCase {
    func file(header: String, dataBytes: Int) -> Data {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: header.utf8)
        d.append(Data(count: dataBytes))
        return d
    }

    func assertRefused(_ header: String, dataBytes: Int, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(data: self.file(header: header, dataBytes: dataBytes), path: "x.safetensors"),
                             file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(mentions), "\(error)", file: file, line: line)
        }
    }

    func testRepeatedKeysAreErrors() {
        let a = #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        assertRefused("{\(a),\(a.replacingOccurrences(of: "[0,4]", with: "[4,8]"))}", dataBytes: 8, mentions: "key 'a' appears twice")
        assertRefused(#"{"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                      dataBytes: 8, mentions: "key 'a' appears twice")
        assertRefused(#"{"__metadata__":{"k":"1","k":"2"},\#(a)}"#, dataBytes: 4, mentions: "key 'k' appears twice")
        assertRefused(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"dtype":"F32"}}"#, dataBytes: 4, mentions: "key 'dtype' appears twice")
        // The same names in different objects are fine.
        XCTAssertNoThrow(try SafetensorsFile(data: file(header: #"{"__metadata__":{"a":"x"},\#(a)}"#, dataBytes: 4), path: "x"))
    }

    func testOverlappingAndOutOfRangeOffsetsAreErrors() {
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                      dataBytes: 8, mentions: "overlaps")
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 4, mentions: "outside")
        assertRefused(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, dataBytes: 4, mentions: "outside")
    }

    func testChecksumCatchesAFlippedBit() throws {
        var w = SafetensorsWriter()
        w.add("t", Tensor([1, 2, 3, 4, 5]))
        w.checksummed = true
        var data = w.encoded()
        XCTAssertNoThrow(try SafetensorsFile(data: data, path: "x").verifyChecksum())
        data[data.count - 3] ^= 0x01
        let flipped = try SafetensorsFile(data: data, path: "x")
        XCTAssertThrowsError(try flipped.verifyChecksum()) { XCTAssertTrue("\($0)".contains("does not match its checksum"), "\($0)") }
        var plain = SafetensorsWriter()
        plain.add("t", Tensor([1]))
        XCTAssertThrowsError(try SafetensorsFile(data: plain.encoded(), path: "x").verifyChecksum()) {
            XCTAssertTrue("\($0)".contains("has no data checksum"), "\($0)")
        }
    }

    /// A sharded checkpoint of one Linear (`w`, `v`): the index must agree with the shards.
    func testShardMapsThatDisagreeAreErrors() throws {
        final class Two: Module {
            let w = Parameter(Tensor([1, 2]), name: "w")
            let v = Parameter(Tensor([3]), name: "v")
        }
        let map = CheckpointNameMap.identity
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ shards: [String: [String]], index: String) throws {
            for (shard, names) in shards {
                var w = SafetensorsWriter()
                for n in names { w.add(n, n == "w" ? Tensor([1, 2]) : Tensor([3])) }
                try w.encoded().write(to: dir.appendingPathComponent(shard))
            }
            try Data(index.utf8).write(to: dir.appendingPathComponent(CheckpointFileName.shardIndex))
        }
        func assertLoad(_ mentions: String?, file: StaticString = #filePath, line: UInt = #line) {
            do {
                try loadWeights(into: Two(), from: dir, nameMap: map)
                if let mentions { XCTFail("accepted; expected '\(mentions)'", file: file, line: line) }
            } catch {
                if let mentions { XCTAssertTrue("\(error)".contains(mentions), "\(error)", file: file, line: line) }
                else { XCTFail("\(error)", file: file, line: line) }
            }
        }
        try write(["a": ["w"], "b": ["v"]], index: #"{"weight_map": {"w": "a", "v": "b"}}"#)
        assertLoad(nil)
        // Shards are read in the order of their first tensor name (b for v, then a for w).
        try write(["a": ["w", "v"], "b": ["v"]], index: #"{"weight_map": {"w": "a", "v": "b"}}"#)
        assertLoad("tensor 'v' is in two shards (b and a)")
        try write(["a": ["w"], "b": ["v", "w"]], index: #"{"weight_map": {"w": "a", "v": "b"}}"#)
        assertLoad("shard b holds 'w', which weight_map puts in a")
        try write(["a": ["w"], "b": []], index: #"{"weight_map": {"w": "a", "v": "b"}}"#)
        assertLoad("weight_map puts 'v' in b, which does not hold it")
        try write(["a": ["w", "v"]], index: #"{"weight_map": {"w": "a"}}"#)
        assertLoad("which weight_map does not list")
        try write(["a": ["w"], "b": ["v"]], index: #"{"weight_map": {"w": "a", "v": "b", "w": "b"}}"#)
        assertLoad("'w' is listed twice")
    }
}
