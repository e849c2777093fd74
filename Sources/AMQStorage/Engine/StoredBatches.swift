import AMQKafkaProtocol
import NIOCore

/// Walking whole record batches as they are stored.
enum StoredBatches {
    /// The batches of `bytes` from the one holding `offset`, up to `maxBytes` (at least one), and
    /// whether they run to the end of `bytes`.
    static func batches(from bytes: ByteBuffer, offset: Int64, maxBytes: Int) -> (batches: ByteBuffer, complete: Bool) {
        var index = bytes.readerIndex
        var start: Int?
        var end = index
        while let header = RecordBatchHeader(bytes, at: index), index + header.totalSize <= bytes.writerIndex {
            if start == nil {
                if header.lastOffset >= offset { start = index } else {
                    index += header.totalSize
                    end = index
                    continue
                }
            }
            if let start, index > start, index + header.totalSize - start > maxBytes { break }
            index += header.totalSize
            end = index
        }
        guard let start else { return (ByteBuffer(), true) }
        return (bytes.getSlice(at: start, length: end - start) ?? ByteBuffer(), end == bytes.writerIndex)
    }

    /// Gives the whole batches of `bytes` consecutive offsets from `base`: batches read from a
    /// router object carry the offsets their producer sent, and the index says where they start.
    /// The base offset is outside the batch CRC, so nothing else changes.
    static func assignOffsets(_ bytes: inout ByteBuffer, from base: Int64) {
        var index = bytes.readerIndex
        var next = base
        while let header = RecordBatchHeader(bytes, at: index), index + header.totalSize <= bytes.writerIndex {
            RecordBatchHeader.setBaseOffset(next, in: &bytes, at: index)
            next += Int64(header.lastOffsetDelta) + 1
            index += header.totalSize
        }
    }

    /// The last offset of the whole batches in `batches`.
    static func lastOffset(in batches: ByteBuffer) -> Int64? {
        var index = batches.readerIndex
        var last: Int64?
        while let header = RecordBatchHeader(batches, at: index), index + header.totalSize <= batches.writerIndex {
            last = header.lastOffset
            index += header.totalSize
        }
        return last
    }
}
