import NIOCore

// Readers and writers for the Kafka protocol types the generated codecs
// call. Readers take the name of what they read for error messages. Every length is checked
// against `readableBytes` before anything is allocated, so a hostile frame cannot make the decoder
// allocate more than the frame's size (times a small per-element constant).

extension ByteBuffer {
    // MARK: Fixed-width values

    package mutating func readKafkaInteger<T: FixedWidthInteger>(_ what: StaticString) throws(KafkaProtocolError) -> T {
        guard let value = readInteger(as: T.self) else { throw .truncated("\(what)") }
        return value
    }

    package mutating func readKafkaBool(_ what: StaticString) throws(KafkaProtocolError) -> Bool {
        let byte: UInt8 = try readKafkaInteger(what)
        return byte != 0
    }

    package mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(value ? 1 : 0 as UInt8)
    }

    package mutating func readKafkaFloat64(_ what: StaticString) throws(KafkaProtocolError) -> Double {
        let bits: UInt64 = try readKafkaInteger(what)
        return Double(bitPattern: bits)
    }

    package mutating func writeKafkaFloat64(_ value: Double) {
        writeInteger(value.bitPattern)
    }

    package mutating func readKafkaUUID(_ what: StaticString) throws(KafkaProtocolError) -> KafkaUUID {
        guard readableBytes >= 16 else { throw .truncated("\(what)") }
        let high: UInt64 = try readKafkaInteger(what)
        let low: UInt64 = try readKafkaInteger(what)
        return KafkaUUID(high: high, low: low)
    }

    package mutating func writeKafkaUUID(_ value: KafkaUUID) {
        writeInteger(value.high)
        writeInteger(value.low)
    }

    // MARK: Lengths

    /// A length prefix: compact (unsigned varint N+1, 0 = null), int32 (`wide`) or int16 (-1 = null).
    /// Nil means null. The length is checked against the bytes left, so callers may allocate it.
    package mutating func readKafkaLength(compact: Bool, wide: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int? {
        let length: Int
        if compact {
            guard let raw = readUnsignedVarInt(maxBytes: 5) else { throw .truncated("\(what) length") }
            guard raw <= UInt64(UInt32.max) else { throw .invalidLength("\(what)", Int(truncatingIfNeeded: raw)) }
            if raw == 0 { return nil }
            length = Int(raw - 1)
        } else if wide {
            let raw: Int32 = try readKafkaInteger(what)
            if raw == -1 { return nil }
            length = Int(raw)
        } else {
            let raw: Int16 = try readKafkaInteger(what)
            if raw == -1 { return nil }
            length = Int(raw)
        }
        guard length >= 0, length <= readableBytes else { throw .invalidLength("\(what)", length) }
        return length
    }

    package mutating func writeKafkaLength(_ length: Int?, compact: Bool, wide: Bool) {
        if compact {
            writeUnsignedVarInt(length.map { UInt64($0) + 1 } ?? 0)
        } else if wide {
            writeInteger(length.map { Int32(truncatingIfNeeded: $0) } ?? -1)
        } else {
            writeInteger(length.map { Int16(truncatingIfNeeded: $0) } ?? -1)
        }
    }

    // MARK: Strings

    package mutating func readKafkaString(compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> String {
        guard let value = try readKafkaNullableString(compact: compact, nullable: false, what) else {
            throw .invalidValue("\(what) is null")
        }
        return value
    }

    package mutating func readKafkaNullableString(compact: Bool, nullable: Bool, _ what: StaticString) throws(KafkaProtocolError) -> String? {
        guard let length = try readKafkaLength(compact: compact, wide: false, what) else {
            if nullable { return nil }
            throw .invalidValue("\(what) is null")
        }
        guard let value = String(validating: readableBytesView.prefix(length), as: UTF8.self) else {
            throw .invalidValue("\(what) is not UTF-8")
        }
        moveReaderIndex(forwardBy: length)
        return value
    }

    /// Classic strings have an int16 length; a longer string is cut at 32767 bytes rather than
    /// writing a length the peer would misread.
    package mutating func writeKafkaString(_ value: String, compact: Bool) {
        let utf8 = value.utf8
        let length = compact ? utf8.count : min(utf8.count, Int(Int16.max))
        writeKafkaLength(length, compact: compact, wide: false)
        if length == utf8.count {
            writeString(value)
        } else {
            writeBytes(utf8.prefix(length))
        }
    }

    /// Nil in a version where the field is not nullable is written as the empty string.
    package mutating func writeKafkaNullableString(_ value: String?, compact: Bool, nullable: Bool) {
        if let value {
            writeKafkaString(value, compact: compact)
        } else if nullable {
            writeKafkaLength(nil, compact: compact, wide: false)
        } else {
            writeKafkaString("", compact: compact)
        }
    }

    // MARK: Bytes and records

    package mutating func readKafkaBytes(compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> [UInt8] {
        guard let value = try readKafkaNullableBytes(compact: compact, nullable: false, what) else {
            throw .invalidValue("\(what) is null")
        }
        return value
    }

    package mutating func readKafkaNullableBytes(compact: Bool, nullable: Bool, _ what: StaticString) throws(KafkaProtocolError) -> [UInt8]? {
        guard let length = try readKafkaLength(compact: compact, wide: true, what) else {
            if nullable { return nil }
            throw .invalidValue("\(what) is null")
        }
        return readBytes(length: length)
    }

    package mutating func writeKafkaBytes(_ value: [UInt8], compact: Bool) {
        writeKafkaLength(value.count, compact: compact, wide: true)
        writeBytes(value)
    }

    package mutating func writeKafkaNullableBytes(_ value: [UInt8]?, compact: Bool, nullable: Bool) {
        if let value {
            writeKafkaBytes(value, compact: compact)
        } else {
            writeKafkaLength(nullable ? nil : 0, compact: compact, wide: true)
        }
    }

    /// Record batches stay a slice of the request buffer (no copy on the way to storage).
    package mutating func readKafkaRecords(compact: Bool, nullable: Bool, _ what: StaticString) throws(KafkaProtocolError) -> ByteBuffer? {
        guard let length = try readKafkaLength(compact: compact, wide: true, what) else {
            if nullable { return nil }
            throw .invalidValue("\(what) is null")
        }
        return readSlice(length: length)
    }

    package mutating func writeKafkaRecords(_ value: ByteBuffer?, compact: Bool, nullable: Bool) {
        if let value {
            writeKafkaLength(value.readableBytes, compact: compact, wide: true)
            // Inside a spliced frame a large record set becomes a part of its own, uncopied.
            if value.readableBytes >= RecordSplices.minimumBytes, let splices = RecordSplices.current {
                splices.splice(value, at: writerIndex)
            } else {
                writeImmutableBuffer(value)
            }
        } else {
            writeKafkaLength(nullable ? nil : 0, compact: compact, wide: true)
        }
    }

    // MARK: Arrays

    /// Arrays of structs. The element count is bounded by the bytes left, as every element of a
    /// well-formed array takes at least one byte.
    package mutating func readKafkaStructArray<T: KafkaStruct>(version: Int16, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> [T] {
        guard let elements: [T] = try readKafkaNullableStructArray(version: version, compact: compact, nullable: false, what) else {
            throw .invalidValue("\(what) is null")
        }
        return elements
    }

    package mutating func readKafkaNullableStructArray<T: KafkaStruct>(
        version: Int16, compact: Bool, nullable: Bool, _ what: StaticString
    ) throws(KafkaProtocolError) -> [T]? {
        guard let count = try readKafkaLength(compact: compact, wide: true, what) else {
            if nullable { return nil }
            throw .invalidValue("\(what) is null")
        }
        var elements: [T] = []
        for _ in 0..<count { elements.append(try T(from: &self, version: version)) }
        return elements
    }

    package mutating func writeKafkaStructArray<T: KafkaStruct>(_ value: [T], version: Int16, compact: Bool) {
        writeKafkaLength(value.count, compact: compact, wide: true)
        for element in value { element.encode(into: &self, version: version) }
    }

    package mutating func writeKafkaNullableStructArray<T: KafkaStruct>(_ value: [T]?, version: Int16, compact: Bool, nullable: Bool) {
        if let value {
            writeKafkaStructArray(value, version: version, compact: compact)
        } else {
            writeKafkaLength(nullable ? nil : 0, compact: compact, wide: true)
        }
    }

    /// Arrays of ints, strings and UUIDs.
    package mutating func readKafkaArray<T: KafkaArrayElement>(compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> [T] {
        guard let elements: [T] = try readKafkaNullableArray(compact: compact, nullable: false, what) else {
            throw .invalidValue("\(what) is null")
        }
        return elements
    }

    package mutating func readKafkaNullableArray<T: KafkaArrayElement>(compact: Bool, nullable: Bool, _ what: StaticString) throws(KafkaProtocolError) -> [T]? {
        guard let count = try readKafkaLength(compact: compact, wide: true, what) else {
            if nullable { return nil }
            throw .invalidValue("\(what) is null")
        }
        var elements: [T] = []
        for _ in 0..<count { elements.append(try T.readKafkaElement(from: &self, compact: compact, what)) }
        return elements
    }

    package mutating func writeKafkaArray<T: KafkaArrayElement>(_ value: [T], compact: Bool) {
        writeKafkaLength(value.count, compact: compact, wide: true)
        for element in value { element.writeKafkaElement(into: &self, compact: compact) }
    }

    package mutating func writeKafkaNullableArray<T: KafkaArrayElement>(_ value: [T]?, compact: Bool, nullable: Bool) {
        if let value {
            writeKafkaArray(value, compact: compact)
        } else {
            writeKafkaLength(nullable ? nil : 0, compact: compact, wide: true)
        }
    }

    // MARK: Nullable structs

    /// A nullable struct field carries an int8 marker (-1 null, 1 present) in its nullable versions.
    package mutating func readKafkaNullableStruct<T: KafkaStruct>(version: Int16, nullable: Bool, _ what: StaticString) throws(KafkaProtocolError) -> T? {
        if nullable {
            let marker: Int8 = try readKafkaInteger(what)
            if marker < 0 { return nil }
        }
        return try T(from: &self, version: version)
    }

    package mutating func writeKafkaNullableStruct<T: KafkaStruct>(_ value: T?, version: Int16, nullable: Bool, fallback: T) {
        if nullable {
            writeInteger(value == nil ? -1 : 1 as Int8)
        }
        (value ?? fallback).encode(into: &self, version: version)
    }

    // MARK: Tagged fields

    /// A tag section: count, then per field tag, size and payload (all unsigned varints).
    package mutating func readKafkaRawTaggedFields(_ what: StaticString) throws(KafkaProtocolError) -> [RawTaggedField] {
        guard let rawCount = readUnsignedVarInt(maxBytes: 5) else { throw .truncated("\(what)") }
        // Each field takes at least two bytes (tag and size).
        guard rawCount <= UInt64(readableBytes / 2) else { throw .invalidLength("\(what)", Int(truncatingIfNeeded: rawCount)) }
        var fields: [RawTaggedField] = []
        for _ in 0..<Int(rawCount) {
            guard let tag = readUnsignedVarInt(maxBytes: 5), tag <= UInt64(UInt32.max) else { throw .truncated("\(what) tag") }
            guard let size = readUnsignedVarInt(maxBytes: 5) else { throw .truncated("\(what) size") }
            guard size <= UInt64(readableBytes), let data = readSlice(length: Int(size)) else {
                throw .invalidLength("\(what) tag \(tag)", Int(truncatingIfNeeded: size))
            }
            fields.append(RawTaggedField(tag: UInt32(tag), data: data))
        }
        return fields
    }

    package mutating func readKafkaTaggedFields(_ what: StaticString) throws(KafkaProtocolError) -> [TaggedField] {
        try readKafkaRawTaggedFields(what).map(\.unknown)
    }

    /// Writes `unknown` and `known` merged in ascending tag order, as the protocol requires.
    package mutating func writeKafkaTaggedFields(_ unknown: [TaggedField], known: [TaggedField] = []) {
        let fields = known.isEmpty ? unknown : (known + unknown).sorted { $0.tag < $1.tag }
        writeUnsignedVarInt(UInt64(fields.count))
        for field in fields {
            writeUnsignedVarInt(UInt64(field.tag))
            writeUnsignedVarInt(UInt64(field.data.count))
            writeBytes(field.data)
        }
    }
}

/// Element types of primitive arrays (`[]int32`, `[]string`, ...).
package protocol KafkaArrayElement: Sendable, Equatable {
    static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Self
    func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool)
}

extension Int8: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int8 {
        try buffer.readKafkaInteger(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeInteger(self) }
}

extension Int16: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int16 {
        try buffer.readKafkaInteger(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeInteger(self) }
}

extension Int32: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int32 {
        try buffer.readKafkaInteger(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeInteger(self) }
}

extension Int64: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int64 {
        try buffer.readKafkaInteger(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeInteger(self) }
}

extension UInt16: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> UInt16 {
        try buffer.readKafkaInteger(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeInteger(self) }
}

extension Bool: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Bool {
        try buffer.readKafkaBool(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeKafkaBool(self) }
}

extension Double: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Double {
        try buffer.readKafkaFloat64(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeKafkaFloat64(self) }
}

extension String: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> String {
        try buffer.readKafkaString(compact: compact, what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeKafkaString(self, compact: compact) }
}

extension KafkaUUID: KafkaArrayElement {
    package static func readKafkaElement(from buffer: inout ByteBuffer, compact: Bool, _ what: StaticString) throws(KafkaProtocolError) -> KafkaUUID {
        try buffer.readKafkaUUID(what)
    }
    package func writeKafkaElement(into buffer: inout ByteBuffer, compact: Bool) { buffer.writeKafkaUUID(self) }
}
