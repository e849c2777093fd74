import AMQStreamIndex
import AMQKafkaProtocol
import Foundation
import NIOCore

/// The layout of a stream object (a sealed WAL buffer, or a compacted partition range), version 1.
/// All integers big-endian. See docs/storage-format.md.
///
/// ```
/// header (32 bytes)
///   0  magic "AMQS"                         4 bytes
///   4  format version (1)                   u16
///   6  flags (0)                            u16
///   8  writer node id                       i32
///   12 created, ms since the epoch          i64
///   20 entry count                          u32
///   24 directory length in bytes            u32
///   28 CRC-32C of bytes 0..<28 and the directory   u32
/// directory (entry count × entry)
///   topic id length u16, topic id UTF-8, partition i32, base offset i64, end offset i64,
///   position u64 (from the object's start), length u32, max timestamp i64, CRC-32C of the data u32
/// data
///   each entry's record batches (Kafka v2, offsets assigned), back to back, at its position
/// ```
///
/// A reader that knows an entry's position and length (from the partition index) needs one
/// range GET; the directory lets compaction, garbage collection and `amq` tools read an object
/// without the index.
package enum StreamObject {
    package static let magic: [UInt8] = Array("AMQS".utf8)
    package static let version: UInt16 = 1
    package static let headerSize = 32

    package struct Entry: Sendable, Hashable {
        package var partition: PartitionKey
        package var baseOffset: Int64
        package var endOffset: Int64
        package var position: Int
        package var length: Int
        package var maxTimestamp: Int64
        package var crc: UInt32
    }

    package struct Header: Sendable, Hashable {
        package var nodeID: Int
        package var created: Date
        package var entries: [Entry]
    }

    /// One partition's data going into an object.
    package struct Input: Sendable {
        package var partition: PartitionKey
        package var baseOffset: Int64
        package var endOffset: Int64
        package var maxTimestamp: Int64
        /// The batches, in pieces laid out back to back.
        package var chunks: [ByteBuffer]

        package init(partition: PartitionKey, baseOffset: Int64, endOffset: Int64, maxTimestamp: Int64, batches: ByteBuffer) {
            self.init(partition: partition, baseOffset: baseOffset, endOffset: endOffset, maxTimestamp: maxTimestamp, chunks: [batches])
        }

        package init(partition: PartitionKey, baseOffset: Int64, endOffset: Int64, maxTimestamp: Int64, chunks: [ByteBuffer]) {
            self.partition = partition
            self.baseOffset = baseOffset
            self.endOffset = endOffset
            self.maxTimestamp = maxTimestamp
            self.chunks = chunks
        }

        var length: Int { chunks.reduce(0) { $0 + $1.readableBytes } }
    }

    /// Lays out `inputs` in order; returns the object's bytes and each input's entry.
    package static func encode(nodeID: Int, created: Date = Date(), _ inputs: [Input]) -> (object: ByteBuffer, entries: [Entry]) {
        let directorySize = inputs.reduce(0) { $0 + 2 + $1.partition.topicID.utf8.count + 4 + 8 + 8 + 8 + 4 + 8 + 4 }
        var position = headerSize + directorySize
        var entries: [Entry] = []
        for input in inputs {
            let crc = input.chunks.reduce(UInt32(0)) { crc, chunk in chunk.withUnsafeReadableBytes { CRC32C.checksum($0, continuing: crc) } }
            entries.append(
                Entry(
                    partition: input.partition, baseOffset: input.baseOffset, endOffset: input.endOffset, position: position,
                    length: input.length, maxTimestamp: input.maxTimestamp, crc: crc
                )
            )
            position += input.length
        }
        var directory = ByteBufferAllocator().buffer(capacity: directorySize)
        for entry in entries {
            directory.writeInteger(UInt16(entry.partition.topicID.utf8.count))
            directory.writeString(entry.partition.topicID)
            directory.writeInteger(Int32(entry.partition.partition))
            directory.writeInteger(entry.baseOffset)
            directory.writeInteger(entry.endOffset)
            directory.writeInteger(UInt64(entry.position))
            directory.writeInteger(UInt32(entry.length))
            directory.writeInteger(entry.maxTimestamp)
            directory.writeInteger(entry.crc)
        }
        var object = ByteBufferAllocator().buffer(capacity: position)
        object.writeBytes(magic)
        object.writeInteger(version)
        object.writeInteger(UInt16(0))
        object.writeInteger(Int32(nodeID))
        object.writeInteger(Int64((created.timeIntervalSince1970 * 1000).rounded()))
        object.writeInteger(UInt32(entries.count))
        object.writeInteger(UInt32(directory.readableBytes))
        var crc = object.withUnsafeReadableBytes { CRC32C.checksum($0) }
        crc = directory.withUnsafeReadableBytes { CRC32C.checksum($0, continuing: crc) }
        object.writeInteger(crc)
        object.writeBuffer(&directory)
        for input in inputs {
            for chunk in input.chunks { object.writeImmutableBuffer(chunk) }
        }
        return (object, entries)
    }

    /// Each entry's bytes in `object` (as `encode` returned them), in order.
    package static func slices(of object: ByteBuffer, _ entries: [Entry]) -> [ByteBuffer] {
        entries.map { object.getSlice(at: object.readerIndex + $0.position, length: $0.length) ?? ByteBuffer() }
    }

    /// Reads the header and directory from the start of an object (at least `headerSize` bytes,
    /// plus the directory to decode it); checks magic, version and checksum.
    package static func decodeHeader(_ buffer: ByteBuffer) throws(StorageError) -> Header {
        var buffer = buffer
        guard buffer.readableBytes >= headerSize, let magicBytes = buffer.getBytes(at: buffer.readerIndex, length: 4), magicBytes == magic else {
            throw StorageError(.corrupt, "not a stream object: bad magic or too short")
        }
        let start = buffer.readerIndex
        buffer.moveReaderIndex(forwardBy: 4)
        let version: UInt16 = buffer.readInteger()!
        guard version == Self.version else { throw StorageError(.corrupt, "stream object format version \(version) is not supported") }
        _ = buffer.readInteger(as: UInt16.self)
        let nodeID: Int32 = buffer.readInteger()!
        let created: Int64 = buffer.readInteger()!
        let count: UInt32 = buffer.readInteger()!
        let directoryLength: UInt32 = buffer.readInteger()!
        let storedCRC: UInt32 = buffer.readInteger()!
        guard buffer.readableBytes >= Int(directoryLength), var directory = buffer.readSlice(length: Int(directoryLength)) else {
            throw StorageError(.corrupt, "stream object directory truncated")
        }
        var crc = buffer.withVeryUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + 28)])) }
        crc = directory.withUnsafeReadableBytes { CRC32C.checksum($0, continuing: crc) }
        guard crc == storedCRC else { throw StorageError(.corrupt, "stream object header checksum mismatch") }
        var entries: [Entry] = []
        for _ in 0..<count {
            guard let idLength = directory.readInteger(as: UInt16.self), let topicID = directory.readString(length: Int(idLength)),
                let partition = directory.readInteger(as: Int32.self), let base = directory.readInteger(as: Int64.self),
                let end = directory.readInteger(as: Int64.self), let position = directory.readInteger(as: UInt64.self),
                let length = directory.readInteger(as: UInt32.self), let maxTimestamp = directory.readInteger(as: Int64.self),
                let entryCRC = directory.readInteger(as: UInt32.self)
            else { throw StorageError(.corrupt, "stream object directory entry truncated") }
            entries.append(
                Entry(
                    partition: PartitionKey(topicID: topicID, partition: Int(partition)), baseOffset: base, endOffset: end,
                    position: Int(position), length: Int(length), maxTimestamp: maxTimestamp, crc: entryCRC
                )
            )
        }
        return Header(nodeID: Int(nodeID), created: Date(timeIntervalSince1970: Double(created) / 1000), entries: entries)
    }
}

