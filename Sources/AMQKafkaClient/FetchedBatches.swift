import AMQKafkaProtocol
import NIOCore

/// A record read from a partition.
package struct FetchedRecord: Sendable, Equatable {
    package var partition: Int32
    package var offset: Int64
    package var record: Record
}

/// The records of one partition's Fetch response data.
package struct FetchedBatches: Sendable {
    package var records: [FetchedRecord] = []
    /// Where the next fetch starts: one past the last whole batch, or the requested offset.
    package var nextOffset: Int64
    /// Batches that could not be read (compressed, old magic), as sentences for stderr.
    package var skipped: [String] = []

    /// Parses the batches in `data` (which may end with a truncated batch, as Fetch allows),
    /// keeping records at or after `offset`: a fetch from the middle of a batch returns the
    /// whole batch. Control batches (transaction markers) are stepped over silently. amq has
    /// no decompression codecs, so a compressed batch from another client is reported and
    /// skipped rather than misread.
    package static func parse(_ data: ByteBuffer?, partition: Int32, from offset: Int64) -> FetchedBatches {
        var result = FetchedBatches(nextOffset: offset)
        guard let data else { return result }
        var index = data.readerIndex
        while let header = RecordBatchHeader(data, at: index), header.batchLength >= Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead), header.totalSize <= data.writerIndex - index {
            defer {
                index += header.totalSize
                result.nextOffset = max(result.nextOffset, header.lastOffset + 1)
            }
            guard header.magic == 2 else {
                result.skipped.append("partition \(partition): batch at offset \(header.baseOffset) has message format v\(header.magic), skipped")
                continue
            }
            if header.isControl || header.lastOffset < offset { continue }
            guard header.compression == 0 else {
                result.skipped.append(
                    "partition \(partition): compressed batch (codec \(header.compression)) at offsets \(header.baseOffset)-\(header.lastOffset) skipped"
                )
                continue
            }
            do {
                for (recordOffset, record) in try RecordBatchBuilder.records(in: data, at: index) where recordOffset >= offset {
                    result.records.append(FetchedRecord(partition: partition, offset: recordOffset, record: record))
                }
            } catch {
                result.skipped.append("partition \(partition): unreadable batch at offset \(header.baseOffset) skipped: \(error)")
            }
        }
        return result
    }
}
