import AMQKafkaProtocol
import AMQStreamIndex
import Logging
import NIOCore

extension StorageEngine {
    /// How much of a partition's tail is read to rebuild its producer state on a leadership move.
    static let producerStateSegments = 32
    static let producerStateBytes = 32 << 20

    /// Idempotent producers' recent batches, rebuilt from the log's tail.
    func recentProducers(_ partition: PartitionKey, segments: [Segment], logStart: Int64, end: Int64) async -> ProducerStateTable {
        var table = ProducerStateTable()
        // A first page of the index that is full may not reach the tail: page to the end.
        let known = segments.count >= 1000 ? ((try? await allSegments(partition)) ?? segments) : segments
        guard let first = known.suffix(Self.producerStateSegments).first else { return table }
        var offset = max(first.baseOffset, logStart)
        var budget = Self.producerStateBytes
        while offset < end, budget > 0 {
            do {
                let result = try await read(partition, offset: offset, maxBytes: min(budget, 4 << 20))
                guard result.batches.readableBytes > 0, let last = StoredBatches.lastOffset(in: result.batches) else { break }
                table.rebuild(from: result.batches)
                budget -= result.batches.readableBytes
                offset = last + 1
            } catch {
                // Best effort: without it a retried batch from before the move may be appended twice.
                logger.warning("Could not rebuild producer state", metadata: ["amq.partition": "\(partition)", "amq.error": "\(error)"])
                break
            }
        }
        return table
    }

    /// The first offset whose batch reaches `timestamp` (ListOffsets by time): the segment index
    /// narrows it to one object range, then batch headers (and, for uncompressed batches, the
    /// records) pin it down. Nil when every record is older. A compressed batch answers with its
    /// first offset: its records' own timestamps would need decompressing (docs/decisions.md).
    package func offset(forTimestamp timestamp: Int64, in partition: PartitionKey) async throws -> (offset: Int64, timestamp: Int64)? {
        let segments = try await allSegments(partition)
        for segment in segments where segment.maxTimestamp >= timestamp {
            let result = try await read(partition, offset: segment.baseOffset, maxBytes: segment.length)
            var index = result.batches.readerIndex
            while let header = RecordBatchHeader(result.batches, at: index), index + header.totalSize <= result.batches.writerIndex {
                defer { index += header.totalSize }
                guard header.maxTimestamp >= timestamp, header.lastOffset >= result.logStartOffset else { continue }
                if header.compression == 0, let records = try? RecordBatchBuilder.records(in: result.batches, at: index) {
                    if let hit = records.first(where: { $0.record.timestamp >= timestamp && $0.offset >= result.logStartOffset }) {
                        return (hit.offset, hit.record.timestamp)
                    }
                    continue
                }
                return (max(header.baseOffset, result.logStartOffset), header.maxTimestamp)
            }
        }
        return nil
    }

    /// The offset holding the partition's largest timestamp (ListOffsets v7 MAX_TIMESTAMP).
    package func offsetOfMaxTimestamp(in partition: PartitionKey) async throws -> (offset: Int64, timestamp: Int64)? {
        let segments = try await allSegments(partition)
        guard let best = segments.max(by: { $0.maxTimestamp < $1.maxTimestamp }) else { return nil }
        let result = try await read(partition, offset: best.baseOffset, maxBytes: best.length)
        var index = result.batches.readerIndex
        var found: (offset: Int64, timestamp: Int64)?
        while let header = RecordBatchHeader(result.batches, at: index), index + header.totalSize <= result.batches.writerIndex {
            defer { index += header.totalSize }
            if let found, header.maxTimestamp <= found.timestamp { continue }
            var offset = header.lastOffset
            if header.compression == 0, let records = try? RecordBatchBuilder.records(in: result.batches, at: index),
                let top = records.max(by: { $0.record.timestamp < $1.record.timestamp })
            {
                offset = top.offset
            }
            found = (offset, header.maxTimestamp)
        }
        return found
    }
}
