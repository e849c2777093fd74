import NIOCore

/// The fixed 61-byte header of a Kafka record batch (magic 2), read in place from a buffer.
///
/// ```
/// 0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32
/// 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64
/// 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordsCount i32 | 61 records…
/// ```
/// The CRC-32C covers attributes to the end, so `baseOffset` and `partitionLeaderEpoch` can be
/// set by the broker (and at read time) without recomputing it.
package struct RecordBatchHeader: Sendable, Hashable {
    package static let size = 61
    /// Bytes before `batchLength` counts: baseOffset and batchLength themselves.
    package static let logOverhead = 12
    package static let crcStart = 21

    package enum Offsets {
        package static let baseOffset = 0
        package static let batchLength = 8
        package static let partitionLeaderEpoch = 12
        package static let magic = 16
        package static let crc = 17
        package static let attributes = 21
        package static let lastOffsetDelta = 23
        package static let baseTimestamp = 27
        package static let maxTimestamp = 35
        package static let producerID = 43
        package static let producerEpoch = 51
        package static let baseSequence = 53
        package static let recordsCount = 57
    }

    package var baseOffset: Int64
    package var batchLength: Int32
    package var partitionLeaderEpoch: Int32
    package var magic: Int8
    package var crc: UInt32
    package var attributes: Int16
    package var lastOffsetDelta: Int32
    package var baseTimestamp: Int64
    package var maxTimestamp: Int64
    package var producerID: Int64
    package var producerEpoch: Int16
    package var baseSequence: Int32
    package var recordsCount: Int32

    /// The whole batch's size in bytes, header included.
    package var totalSize: Int { Int(batchLength) + Self.logOverhead }
    package var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    package var compression: Int { Int(attributes & 0x07) }
    package var isTransactional: Bool { attributes & 0x10 != 0 }
    package var isControl: Bool { attributes & 0x20 != 0 }

    /// Reads the header at `index` of `buffer` without moving its reader index; nil when fewer
    /// than 61 bytes are there.
    package init?(_ buffer: ByteBuffer, at index: Int) {
        guard index >= buffer.readerIndex, buffer.writerIndex - index >= Self.size,
            let baseOffset = buffer.getInteger(at: index, as: Int64.self),
            let batchLength = buffer.getInteger(at: index + 8, as: Int32.self),
            let epoch = buffer.getInteger(at: index + 12, as: Int32.self),
            let magic = buffer.getInteger(at: index + 16, as: Int8.self),
            let crc = buffer.getInteger(at: index + 17, as: UInt32.self),
            let attributes = buffer.getInteger(at: index + 21, as: Int16.self),
            let lastOffsetDelta = buffer.getInteger(at: index + 23, as: Int32.self),
            let baseTimestamp = buffer.getInteger(at: index + 27, as: Int64.self),
            let maxTimestamp = buffer.getInteger(at: index + 35, as: Int64.self),
            let producerID = buffer.getInteger(at: index + 43, as: Int64.self),
            let producerEpoch = buffer.getInteger(at: index + 51, as: Int16.self),
            let baseSequence = buffer.getInteger(at: index + 53, as: Int32.self),
            let recordsCount = buffer.getInteger(at: index + 57, as: Int32.self)
        else { return nil }
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = epoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerID = producerID
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordsCount = recordsCount
    }
}

/// Why a produced batch is refused.
package enum RecordBatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Shorter than its header or its declared length.
    case truncated(have: Int, need: Int)
    case unsupportedMagic(Int8)
    case crcMismatch(expected: UInt32, actual: UInt32)
    /// Fields that contradict each other (negative counts, a length below the header).
    case invalid(String)

    package var description: String {
        switch self {
        case .truncated(let have, let need): "record batch truncated: \(have) of \(need) bytes"
        case .unsupportedMagic(let magic): "record batch magic \(magic) is not supported (only 2)"
        case .crcMismatch(let expected, let actual): "record batch CRC mismatch: header says \(expected), bytes give \(actual)"
        case .invalid(let reason): "invalid record batch: \(reason)"
        }
    }
}

extension RecordBatchHeader {
    /// Checks the batches in `buffer`'s readable bytes — lengths, magic, CRC-32C — and returns
    /// their headers in order. The buffer must hold whole batches and nothing else.
    package static func validateBatches(_ buffer: ByteBuffer) throws(RecordBatchError) -> [RecordBatchHeader] {
        var headers: [RecordBatchHeader] = []
        var index = buffer.readerIndex
        while index < buffer.writerIndex {
            let remaining = buffer.writerIndex - index
            guard let header = RecordBatchHeader(buffer, at: index) else { throw .truncated(have: remaining, need: size) }
            guard header.magic == 2 else { throw .unsupportedMagic(header.magic) }
            guard header.batchLength >= Int32(size - logOverhead) else { throw .invalid("batch length \(header.batchLength) is below the header size") }
            guard header.totalSize <= remaining else { throw .truncated(have: remaining, need: header.totalSize) }
            guard header.lastOffsetDelta >= 0, header.recordsCount >= 0 else {
                throw .invalid("lastOffsetDelta \(header.lastOffsetDelta), recordsCount \(header.recordsCount)")
            }
            let actual = buffer.withUnsafeReadableBytes { bytes in
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(index - buffer.readerIndex + crcStart)..<(index - buffer.readerIndex + header.totalSize)]))
            }
            guard actual == header.crc else { throw .crcMismatch(expected: header.crc, actual: actual) }
            headers.append(header)
            index += header.totalSize
        }
        return headers
    }

    /// Sets the base offset of the batch at `index` (outside the CRC, so nothing else changes).
    package static func setBaseOffset(_ offset: Int64, in buffer: inout ByteBuffer, at index: Int) {
        buffer.setInteger(offset, at: index + Offsets.baseOffset)
    }

    /// Sets the partition leader epoch of the batch at `index` (also outside the CRC).
    package static func setPartitionLeaderEpoch(_ epoch: Int32, in buffer: inout ByteBuffer, at index: Int) {
        buffer.setInteger(epoch, at: index + Offsets.partitionLeaderEpoch)
    }
}
