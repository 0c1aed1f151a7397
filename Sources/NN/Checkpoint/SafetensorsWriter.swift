import Foundation
import Tensor

/// Collects named tensors and writes them as one safetensors file.
///
/// Entries are laid out in name order (deterministic output); the header is padded with spaces
/// to a multiple of 8 bytes so that every tensor starts 8-byte aligned in the file (what the
/// reference implementation does, and what lets readers map F32/I64 data in place).
public struct SafetensorsWriter {
    private enum Payload {
        case float(Tensor)
        case bytes(ByteTensor)
        case int32([Int32])
        case int64([Int64])

        /// Runs `body` over the payload's bytes as they go into the file.
        func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch self {
            case .float(let t): return try t.withUnsafeBufferPointer { try body(UnsafeRawBufferPointer($0)) }
            case .bytes(let t): return try t.withUnsafeBufferPointer { try body(UnsafeRawBufferPointer($0)) }
            case .int32(let v): return try v.withUnsafeBytes(body)
            case .int64(let v): return try v.withUnsafeBytes(body)
            }
        }
    }

    private var items: [String: (dtype: SafetensorsDType, shape: [Int], payload: Payload)] = [:]
    /// Written as `__metadata__`.
    public var metadata: [String: String] = [:]
    /// Adds the FNV-1a of the data buffer to the metadata (`SafetensorsFile.checksumKey`), so a
    /// reader can tell a complete, intact file (`SafetensorsFile.verifyChecksum()`).
    public var checksummed = false

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Names added so far, sorted.
    public var names: [String] { items.keys.sorted() }

    private mutating func insert(_ name: String, _ item: (dtype: SafetensorsDType, shape: [Int], payload: Payload)) {
        precondition(name != "__metadata__", "SafetensorsWriter: '__metadata__' is reserved")
        precondition(items[name] == nil, "SafetensorsWriter: duplicate tensor name '\(name)'")
        items[name] = item
    }

    /// Adds an F32 tensor (no copy: tensors are copy-on-write).
    public mutating func add(_ name: String, _ tensor: Tensor) {
        insert(name, (.f32, tensor.shape, .float(tensor)))
    }

    /// Adds a U8 tensor (no copy).
    public mutating func add(_ name: String, bytes tensor: ByteTensor) {
        insert(name, (.u8, tensor.shape, .bytes(tensor)))
    }

    /// Adds an I32 tensor. - Parameter values: row-major, `values.count == shape.reduce(1, *)`.
    public mutating func add(_ name: String, int32 values: [Int32], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "SafetensorsWriter: \(values.count) values for shape \(shape)")
        insert(name, (.i32, shape, .int32(values)))
    }

    /// Adds an I64 tensor. - Parameter values: row-major, `values.count == shape.reduce(1, *)`.
    public mutating func add(_ name: String, int64 values: [Int64], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "SafetensorsWriter: \(values.count) values for shape \(shape)")
        insert(name, (.i64, shape, .int64(values)))
    }

    /// The 8-byte length plus the padded JSON header.
    private func headerBytes(order: [String]) -> [UInt8] {
        var json = "{"
        var parts: [String] = []
        var metadata = self.metadata
        if checksummed { metadata[SafetensorsFile.checksumKey] = FNV1a.hex(dataChecksum(order: order)) }
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for name in order {
            let item = items[name]!
            let size = item.shape.reduce(1, *) * item.dtype.byteSize
            let shape = item.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        json += parts.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header
    }

    /// FNV-1a (`combineWords`, tensor by tensor) of the data buffer as `write` lays it out.
    private func dataChecksum(order: [String]) -> UInt64 {
        var h = FNV1a()
        for name in order { items[name]!.payload.withBytes { h.combineWords($0) } }
        return h.value
    }

    /// Streams the file into `writer`. Data is written straight from tensor storage (the host is
    /// little-endian on every platform Swift supports for this package).
    public func write(into writer: inout AtomicFileWriter) throws {
        let order = names
        try writer.write(headerBytes(order: order))
        for name in order { try items[name]!.payload.withBytes { try writer.write($0) } }
    }

    /// Writes the file atomically (see `writeAtomically(to:_:)`).
    public func write(to url: URL) throws {
        try writeAtomically(to: url) { try write(into: &$0) }
    }

    /// The whole file in memory (for small files and tests).
    public func encoded() -> Data {
        let order = names
        var data = Data(headerBytes(order: order))
        for name in order { items[name]!.payload.withBytes { data.append(contentsOf: $0) } }
        return data
    }
}

#if _endian(big)
#error("Safetensors I/O assumes a little-endian host")
#endif

/// `s` as a JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
