import Foundation
import Tensor

// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// (possibly padded with trailing spaces), then the data buffer. Offsets are relative to the
// start of the buffer; tensors are row-major, little-endian, and tile the buffer exactly.

/// Element types of the safetensors format. Every one is recognised when validating a header;
/// F32/F16/BF16 can be read as `Tensor`, I32/I64 as integers.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// One tensor's header entry. `byteRange` is relative to the start of the data buffer.
public struct SafetensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let byteRange: Range<Int>

    /// Number of elements, `shape.reduce(1, *)` (1 for a scalar of shape `[]`).
    public var count: Int { shape.reduce(1, *) }
}

/// A validated safetensors file, read into memory (memory-mapped when the OS allows).
///
/// Opening validates the whole header: the header length fits the file, the JSON parses, every
/// entry has a known dtype, a non-negative shape and in-range offsets, the byte count of each
/// entry equals `product(shape) · dtype size`, and the entries tile the data buffer with no
/// overlap, gap or trailing bytes. Any violation throws `CheckpointError.invalidFormat` naming
/// the file and the problem.
public struct SafetensorsFile: @unchecked Sendable {
    /// The path used in error messages.
    public let path: String
    /// `__metadata__`, string to string (empty when absent).
    public let metadata: [String: String]
    /// Entries in data-buffer order.
    public let entries: [SafetensorsEntry]
    private let index: [String: Int]
    private let bytes: Data
    private let dataStart: Int

    /// Headers larger than this are refused before parsing (the reference implementation's limit),
    /// so a corrupted length cannot make us allocate or parse gigabytes.
    public static let maxHeaderLength = 100_000_000

    /// Reads and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.fileNotFound(path: path)
        }
        guard !isDirectory.boolValue else { throw CheckpointError.unreadable(path: path, reason: "is a directory") }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw CheckpointError.unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(data: data, path: path)
    }

    /// Validates `data` as a safetensors file; `path` only names it in errors.
    public init(data: Data, path: String) throws {
        // Re-base so that offsets are indices from 0, whatever slice we were given.
        let data = data.startIndex == 0 ? data : Data(data)
        func invalid(_ reason: String) -> CheckpointError { .invalidFormat(path: path, reason: reason) }
        guard data.count >= 8 else {
            throw invalid("file is \(data.count) bytes, too short for the 8-byte header length")
        }
        let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard rawLength <= UInt64(Self.maxHeaderLength) else {
            throw invalid("header length \(rawLength) exceeds the \(Self.maxHeaderLength)-byte limit (not a safetensors file?)")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= data.count - 8 else {
            throw invalid("header length \(headerLength) exceeds the \(data.count - 8) bytes after it (truncated file?)")
        }
        let header = data.subdata(in: 8..<(8 + headerLength))
        guard header.first == UInt8(ascii: "{") else { throw invalid("header does not start with '{'") }
        // JSON decoders keep one of two repeated keys (which one varies): refuse rather than pick.
        if let key = firstDuplicateKey(inJSON: header) { throw invalid("key '\(key)' appears twice in the header") }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: header)
        } catch let error as HeaderError {
            throw invalid(error.message)
        } catch {
            throw invalid("header is not valid JSON")
        }
        let bufferSize = data.count - 8 - headerLength
        var entries: [SafetensorsEntry] = []
        for (name, e) in raw.tensors {
            guard let dtype = SafetensorsDType(rawValue: e.dtype) else {
                throw invalid("tensor '\(name)' has unknown dtype '\(e.dtype)'")
            }
            guard e.shape.allSatisfy({ $0 >= 0 }) else { throw invalid("tensor '\(name)' has negative dimension in shape \(e.shape)") }
            guard e.offsets.count == 2 else { throw invalid("tensor '\(name)': data_offsets must be [begin, end]") }
            let (begin, end) = (e.offsets[0], e.offsets[1])
            guard begin >= 0, begin <= end, end <= bufferSize else {
                throw invalid("tensor '\(name)': data_offsets [\(begin), \(end)] outside the \(bufferSize)-byte data buffer")
            }
            var expected = dtype.byteSize, overflow = false
            for d in e.shape where !overflow { (expected, overflow) = expected.multipliedReportingOverflow(by: d) }
            guard !overflow, expected == end - begin else {
                throw invalid("tensor '\(name)' has \(end - begin) bytes, but shape \(e.shape) of \(dtype.rawValue) needs "
                              + (overflow ? "more than Int.max" : "\(expected)"))
            }
            entries.append(SafetensorsEntry(name: name, dtype: dtype, shape: e.shape, byteRange: begin..<end))
        }
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        var covered = 0
        for (i, e) in entries.enumerated() {
            if e.byteRange.lowerBound < covered {
                throw invalid("tensor '\(e.name)' overlaps tensor '\(entries[i - 1].name)'")
            }
            if e.byteRange.lowerBound > covered {
                throw invalid("bytes \(covered)..<\(e.byteRange.lowerBound) of the data buffer belong to no tensor")
            }
            covered = e.byteRange.upperBound
        }
        guard covered == bufferSize else {
            throw invalid("the last \(bufferSize - covered) bytes of the data buffer belong to no tensor")
        }
        self.path = path
        self.metadata = raw.metadata
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
        self.bytes = data
        self.dataStart = 8 + headerLength
    }

    /// The `__metadata__` key of the data checksum that `SafetensorsWriter.checksummed` adds.
    public static let checksumKey = "sketchgrad_data_fnv1a64"

    /// FNV-1a (64-bit, `combineWords`) of the data buffer, tensor by tensor in buffer order, as
    /// `SafetensorsWriter` computes it.
    public var dataChecksum: UInt64 {
        var h = FNV1a()
        for e in entries { withBytes(of: e) { h.combineWords($0) } }
        return h.value
    }

    /// Checks the data buffer against the checksum in the metadata.
    /// - Throws: `CheckpointError.invalidContent` when the checksum is missing or does not match
    ///   (a file written by another tool, or corrupted after it was written).
    public func verifyChecksum() throws {
        guard let stored = metadata[Self.checksumKey] else {
            throw CheckpointError.invalidContent(path: path, reason: "has no data checksum (metadata '\(Self.checksumKey)')")
        }
        let actual = FNV1a.hex(dataChecksum)
        guard stored == actual else {
            throw CheckpointError.invalidContent(path: path, reason: "data does not match its checksum (stored \(stored), computed \(actual)): the file is corrupted")
        }
    }

    /// Tensor names in data-buffer order.
    public var names: [String] { entries.map(\.name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func entry(_ name: String) -> SafetensorsEntry? { index[name].map { entries[$0] } }

    private func requireEntry(_ name: String) throws -> SafetensorsEntry {
        guard let e = entry(name) else { throw CheckpointError.missingTensor(path: path, name: name) }
        return e
    }

    /// Calls `body` with the raw little-endian bytes of `entry`.
    private func withBytes<R>(of entry: SafetensorsEntry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound)]))
        }
    }

    /// Whether `floatTensor(_:)` can read a tensor stored as `dtype` (exactly: F16 and BF16 are
    /// subsets of F32).
    public static func isReadableAsFloat(_ dtype: SafetensorsDType) -> Bool { [.f32, .f16, .bf16].contains(dtype) }

    /// The tensor `name` as F32. F16 and BF16 are widened exactly; other dtypes throw
    /// `CheckpointError.unsupportedDType`.
    public func floatTensor(_ name: String) throws -> Tensor {
        let e = try requireEntry(name)
        guard Self.isReadableAsFloat(e.dtype) else {
            throw CheckpointError.unsupportedDType(path: path, name: name, dtype: e.dtype.rawValue, expected: "F32, F16 or BF16")
        }
        var t = Tensor(uninitializedShape: e.shape)
        let n = e.count
        withBytes(of: e) { src in
            t.withUnsafeMutableBufferPointer { dst in
                switch e.dtype {
                case .f32:
                    // Little-endian host: the stored bytes are the Float bit patterns.
                    if n > 0 { UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: 4 * n) }
                case .bf16:
                    for i in 0..<n { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                default:
                    for i in 0..<n { dst[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                }
            }
        }
        return t
    }

    /// The U8 tensor `name`, counted under the current memory category; other dtypes throw.
    public func byteTensor(_ name: String) throws -> ByteTensor {
        let e = try requireEntry(name)
        guard e.dtype == .u8 else {
            throw CheckpointError.unsupportedDType(path: path, name: name, dtype: e.dtype.rawValue, expected: "U8")
        }
        var t = ByteTensor(shape: e.shape, repeating: 0)
        withBytes(of: e) { src in
            t.withUnsafeMutableBufferPointer { dst in
                if e.count > 0 { UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: e.count) }
            }
        }
        return t
    }

    /// The integer tensor `name` (I32 or I64) as `Int64`; other dtypes throw.
    public func int64Values(_ name: String) throws -> [Int64] {
        let e = try requireEntry(name)
        switch e.dtype {
        case .i64:
            return withBytes(of: e) { src in (0..<e.count).map { Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
        case .i32:
            return withBytes(of: e) { src in (0..<e.count).map { Int64(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) } }
        default:
            throw CheckpointError.unsupportedDType(path: path, name: name, dtype: e.dtype.rawValue, expected: "I32 or I64")
        }
    }

    /// The integer tensor `name` (I32, or I64 within Int32 range) as `Int32`.
    public func int32Values(_ name: String) throws -> [Int32] {
        let wide = try int64Values(name)
        var out = [Int32](repeating: 0, count: wide.count)
        for (i, v) in wide.enumerated() {
            guard let narrow = Int32(exactly: v) else {
                throw CheckpointError.invalidContent(path: path, reason: "tensor '\(name)' element \(i) = \(v) does not fit in Int32")
            }
            out[i] = narrow
        }
        return out
    }
}

/// IEEE binary16 → binary32, exact (subnormals, infinities and NaN included).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa · 2⁻²⁴, exact in binary32.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    case 31:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | (UInt32(exponent + 127 - 15) << 23) | (mantissa << 13))
    }
}

// MARK: header decoding

/// The first key that occurs twice in one object of a JSON text (nil when none does, or when the
/// text is malformed: the decoder reports that). Keys compare after unescaping.
func firstDuplicateKey(inJSON text: Data) -> String? {
    let b = [UInt8](text)
    var i = 0
    // One entry per open container: the keys seen so far (nil for an array) and whether a key is next.
    var stack: [(keys: Set<String>?, expectingKey: Bool)] = []
    while i < b.count {
        switch b[i] {
        case UInt8(ascii: "{"): stack.append((Set(), true))
        case UInt8(ascii: "["): stack.append((nil, false))
        case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
        case UInt8(ascii: ","): if let top = stack.last, top.keys != nil { stack[stack.count - 1].expectingKey = true }
        case UInt8(ascii: "\""):
            let start = i
            i += 1
            var escaped = false
            while i < b.count, b[i] != UInt8(ascii: "\"") || escaped {
                escaped = !escaped && b[i] == UInt8(ascii: "\\")
                i += 1
            }
            guard i < b.count else { return nil }
            if let top = stack.last, top.keys != nil, top.expectingKey {
                let literal = Data(b[start...i])
                guard let key = (b[start...i].contains(UInt8(ascii: "\\"))
                    ? (try? JSONSerialization.jsonObject(with: literal, options: [.fragmentsAllowed])) as? String
                    : String(decoding: b[(start + 1)..<i], as: UTF8.self)) else { return nil }
                if stack[stack.count - 1].keys!.insert(key).inserted == false { return key }
                stack[stack.count - 1].expectingKey = false
            }
        default: break
        }
        i += 1
    }
    return nil
}

/// A header problem with a message naming the tensor (thrown from inside `Decodable`).
private struct HeaderError: Error { let message: String }

private struct RawEntry {
    let dtype: String
    let shape: [Int]
    let offsets: [Int]
}

/// The header as parsed JSON, before semantic validation.
private struct RawHeader: Decodable {
    var tensors: [(String, RawEntry)] = []
    var metadata: [String: String] = [:]

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                guard let m = try? container.decode([String: String].self, forKey: key) else {
                    throw HeaderError(message: "__metadata__ must map strings to strings")
                }
                metadata = m
                continue
            }
            let name = key.stringValue
            guard let fields = try? container.nestedContainer(keyedBy: Key.self, forKey: key) else {
                throw HeaderError(message: "entry '\(name)' is not an object")
            }
            func field<T: Decodable>(_ field: String, _ type: T.Type, _ what: String) throws -> T {
                guard let v = try? fields.decode(T.self, forKey: Key(stringValue: field)) else {
                    throw HeaderError(message: "tensor '\(name)': '\(field)' is missing or not \(what)")
                }
                return v
            }
            tensors.append((name, RawEntry(dtype: try field("dtype", String.self, "a string"),
                                           shape: try field("shape", [Int].self, "a list of integers"),
                                           offsets: try field("data_offsets", [Int].self, "a list of integers"))))
        }
    }
}
