import NIOCore

/// One record to put in a batch.
package struct Record: Sendable, Hashable {
    package var key: [UInt8]?
    package var value: [UInt8]?
    package var headers: [(key: String, value: [UInt8]?)]
    /// Milliseconds since the epoch.
    package var timestamp: Int64

    package init(key: [UInt8]? = nil, value: [UInt8]?, headers: [(key: String, value: [UInt8]?)] = [], timestamp: Int64) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    package static func == (lhs: Record, rhs: Record) -> Bool {
        lhs.key == rhs.key && lhs.value == rhs.value && lhs.timestamp == rhs.timestamp
            && lhs.headers.map(\.key) == rhs.headers.map(\.key) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(value)
        hasher.combine(timestamp)
    }
}

/// Builds uncompressed record batches (magic 2), as a producer would send them.
package enum RecordBatchBuilder {
    /// A batch of `records` with base offset 0 (the broker assigns the real one).
    package static func batch(
        _ records: [Record], producerID: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1, attributes: Int16 = 0
    ) -> ByteBuffer {
        precondition(!records.isEmpty, "a batch holds at least one record")
        let baseTimestamp = records.map(\.timestamp).min()!
        let maxTimestamp = records.map(\.timestamp).max()!
        var body = ByteBuffer()
        for (delta, record) in records.enumerated() {
            var encoded = ByteBuffer()
            encoded.writeInteger(Int8(0))  // record attributes
            encoded.writeVarLong(record.timestamp - baseTimestamp)
            encoded.writeVarInt(Int32(delta))
            encoded.writeVarBytes(record.key)
            encoded.writeVarBytes(record.value)
            encoded.writeVarInt(Int32(record.headers.count))
            for header in record.headers {
                encoded.writeVarBytes(Array(header.key.utf8))
                encoded.writeVarBytes(header.value)
            }
            body.writeVarInt(Int32(encoded.readableBytes))
            body.writeBuffer(&encoded)
        }
        var batch = ByteBuffer()
        batch.writeInteger(Int64(0))  // base offset
        batch.writeInteger(Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead + body.readableBytes))
        batch.writeInteger(Int32(-1))  // partition leader epoch
        batch.writeInteger(Int8(2))  // magic
        batch.writeInteger(UInt32(0))  // crc, set below
        batch.writeInteger(attributes)
        batch.writeInteger(Int32(records.count - 1))
        batch.writeInteger(baseTimestamp)
        batch.writeInteger(maxTimestamp)
        batch.writeInteger(producerID)
        batch.writeInteger(producerEpoch)
        batch.writeInteger(baseSequence)
        batch.writeInteger(Int32(records.count))
        batch.writeBuffer(&body)
        let crc = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.crcStart...])) }
        batch.setInteger(crc, at: RecordBatchHeader.Offsets.crc)
        return batch
    }

    /// The records of an uncompressed batch at `index`, with their absolute offsets.
    package static func records(in buffer: ByteBuffer, at index: Int) throws(RecordBatchError) -> [(offset: Int64, record: Record)] {
        guard let header = RecordBatchHeader(buffer, at: index) else { throw .truncated(have: buffer.writerIndex - index, need: RecordBatchHeader.size) }
        guard header.compression == 0 else { throw .invalid("compressed batches are read by the protocol layer") }
        guard var body = buffer.getSlice(at: index + RecordBatchHeader.size, length: header.totalSize - RecordBatchHeader.size) else {
            throw .truncated(have: buffer.writerIndex - index, need: header.totalSize)
        }
        var result: [(Int64, Record)] = []
        for _ in 0..<header.recordsCount {
            guard let length = body.readVarInt(), length >= 0, var record = body.readSlice(length: Int(length)) else { throw .invalid("record length") }
            guard record.readInteger(as: Int8.self) != nil, let timestampDelta = record.readVarLong(), let offsetDelta = record.readVarInt(),
                let key = record.readVarBytes(), let value = record.readVarBytes(), let count = record.readVarInt(), count >= 0
            else { throw .invalid("record fields") }
            var headers: [(key: String, value: [UInt8]?)] = []
            for _ in 0..<count {
                guard let headerKey = record.readVarBytes(), let headerKeyBytes = headerKey, let headerValue = record.readVarBytes() else { throw .invalid("record header") }
                headers.append((String(decoding: headerKeyBytes, as: UTF8.self), headerValue))
            }
            result.append((header.baseOffset + Int64(offsetDelta), Record(key: key, value: value, headers: headers, timestamp: header.baseTimestamp + timestampDelta)))
        }
        return result
    }
}

extension ByteBuffer {
    /// Zigzag varint, as Kafka's record fields use.
    package mutating func writeVarInt(_ value: Int32) {
        writeUnsignedVarInt(UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }

    package mutating func writeVarLong(_ value: Int64) {
        writeUnsignedVarInt(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    package mutating func writeUnsignedVarInt(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    /// A varint length (-1 for null) and the bytes.
    package mutating func writeVarBytes(_ bytes: [UInt8]?) {
        guard let bytes else {
            writeVarInt(-1)
            return
        }
        writeVarInt(Int32(bytes.count))
        writeBytes(bytes)
    }

    package mutating func readUnsignedVarInt(maxBytes: Int = 10) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<maxBytes {
            guard let byte = readInteger(as: UInt8.self) else { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    package mutating func readVarInt() -> Int32? {
        guard let raw = readUnsignedVarInt(maxBytes: 5), raw <= UInt64(UInt32.max) else { return nil }
        let value = UInt32(raw)
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    package mutating func readVarLong() -> Int64? {
        guard let value = readUnsignedVarInt(maxBytes: 10) else { return nil }
        return Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    /// Nil for a null field (-1); a nested nil when the bytes are missing or malformed.
    package mutating func readVarBytes() -> [UInt8]?? {
        guard let length = readVarInt() else { return .none }
        if length == -1 { return .some(nil) }
        guard length >= 0, let bytes = readBytes(length: Int(length)) else { return .none }
        return .some(bytes)
    }
}
