import AMQKafkaProtocol
import AMQObjectStore
import AMQStreamIndex
import NIOCore

extension StorageEngine {
    /// At most this many segments (so range GETs) serve one read.
    static let maxSegmentsPerRead = 16

    /// The partition's committed bounds, loading them from the index if this agent has not yet.
    package func bounds(_ partition: PartitionKey) async throws -> (logStart: Int64, highWatermark: Int64) {
        let log = try await partitionLog(partition)
        return (log.logStart, log.committedEnd)
    }

    /// Whole batches holding `offset` onwards, up to about `maxBytes` (at least one batch, so a
    /// batch larger than `maxBytes` still gets through, as Kafka does).
    package func read(_ partition: PartitionKey, offset: Int64, maxBytes: Int) async throws -> ReadResult {
        var log = try await partitionLog(partition)
        if offset > log.committedEnd || offset < log.logStart {
            // Our view may be stale (another agent leads): refresh once before refusing.
            log = try await refresh(partition)
        }
        guard offset >= log.logStart, offset <= log.committedEnd else {
            throw StorageError(.offsetOutOfRange, "offset \(offset) is outside \(partition)'s log [\(log.logStart), \(log.committedEnd))")
        }
        var result = ReadResult(batches: ByteBuffer(), highWatermark: log.committedEnd, logStartOffset: log.logStart)
        guard offset < log.committedEnd else { return result }

        // The log cache holds the tail most readers want.
        let cached = logCache.read(partition, from: offset, end: log.committedEnd, maxBytes: maxBytes)
        if cached.readableBytes > 0 {
            result.batches = cached
            return result
        }

        // Else the segments from the one holding `offset`, as many as fit in `maxBytes`, fetched
        // at once: a partition of many small objects reads almost as fast as one of a few.
        var segments = log.segments(from: offset, upTo: maxBytes, limit: Self.maxSegmentsPerRead)
        if segments.isEmpty {
            log = try await refresh(partition, from: offset)
            segments = log.segments(from: offset, upTo: maxBytes, limit: Self.maxSegmentsPerRead)
        }
        guard !segments.isEmpty else {
            throw StorageError(.offsetOutOfRange, "no segment of \(partition) holds offset \(offset)")
        }
        let parts: [ByteBuffer]
        do {
            parts = try await fetch(segments)
        } catch let error as ObjectStoreError where error.code == .notFound {
            // Compaction or retention replaced an object under us; the index knows where it went.
            _ = try await refresh(partition, from: offset)
            throw StorageError(.unavailable, "an object of \(partition) is gone; retry the read", underlying: error)
        }
        var slices: [ByteBuffer] = []
        var taken = 0
        for part in parts {
            let remaining = maxBytes - taken
            let (slice, complete) = StoredBatches.batches(from: part, offset: offset, maxBytes: taken == 0 ? maxBytes : remaining)
            if taken > 0, slice.readableBytes > remaining { break }
            slices.append(slice)
            taken += slice.readableBytes
            // A segment cut short by maxBytes ends the read: the next one would leave a gap.
            if !complete || taken >= maxBytes { break }
        }
        result.batches = ByteBuffer(joining: slices)
        return result
    }

    /// The segments' bytes, fetched at once through the block cache, in order, with the offsets
    /// the index gives them.
    ///
    /// A WAL or router object holds many partitions' ranges and is at most a buffer's size: it is
    /// read whole, once, and every partition in it is served from that one GET (read-only
    /// replicas in a zone read each object once, whatever they serve from it). Compacted objects
    /// hold one partition and may be large: they are read by range.
    private func fetch(_ segments: [Segment]) async throws -> [ByteBuffer] {
        let store = self.store
        let blockCache = self.blockCache
        return try await withThrowingTaskGroup(of: (Int, ByteBuffer).self) { group in
            for (position, segment) in segments.enumerated() {
                group.addTask {
                    let range = segment.position..<(segment.position + segment.length)
                    var bytes: ByteBuffer
                    if ObjectKeys.isSharedObject(segment.objectKey) {
                        let whole = try await blockCache.get(BlockCache.Key(object: segment.objectKey, position: 0, length: -1)) {
                            try await store.get(segment.objectKey, range: nil)
                        }
                        guard let slice = whole.getSlice(at: whole.readerIndex + range.lowerBound, length: range.count) else {
                            throw StorageError(.corrupt, "object \(segment.objectKey) is shorter than the index says (\(range))")
                        }
                        bytes = slice
                    } else {
                        bytes = try await blockCache.get(BlockCache.Key(object: segment.objectKey, position: segment.position, length: segment.length)) {
                            try await store.get(segment.objectKey, range: range)
                        }
                    }
                    if ObjectKeys.isRouterObject(segment.objectKey) { StoredBatches.assignOffsets(&bytes, from: segment.baseOffset) }
                    return (position, bytes)
                }
            }
            var parts = [ByteBuffer](repeating: ByteBuffer(), count: segments.count)
            for try await (position, bytes) in group { parts[position] = bytes }
            return parts
        }
    }

    /// Moves the log start of `partition` up to `offset` (Kafka's DeleteRecords); returns the new
    /// log start. The index records it; objects wholly below it go with retention's next pass.
    package func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        let logStart = try await index.deleteRecords(partition, before: offset)
        if var log = logs[partition] {
            log.logStart = max(log.logStart, logStart)
            log.segments.removeAll { $0.endOffset <= log.logStart }
            logs[partition] = log
        }
        return logStart
    }

    /// Every committed segment of `partition`, from the index (timestamp lookups need them all).
    func allSegments(_ partition: PartitionKey) async throws -> [Segment] {
        var segments: [Segment] = []
        var from: Int64 = 0
        while true {
            let log = try await loadLog(partition, from: from)
            let fresh = log.segments.filter { $0.baseOffset >= from }
            segments += fresh
            guard let last = fresh.last, last.endOffset < log.nextOffset, fresh.count >= indexPageSize else { break }
            from = last.endOffset
        }
        return segments.filter { $0.endOffset > (logs[partition]?.logStart ?? 0) }
    }

    func partitionLog(_ partition: PartitionKey) async throws -> PartitionLogView {
        if let log = logs[partition] { return log }
        return try await refresh(partition)
    }

    /// Re-reads the partition's bounds (and segments from `from`) from the index.
    @discardableResult
    func refresh(_ partition: PartitionKey, from: Int64 = -1) async throws -> PartitionLogView {
        let fetched = try await loadLog(partition, from: from)
        var log = logs[partition] ?? PartitionLogView(log: fetched)
        if fetched.nextOffset > log.committedEnd { log.committedEnd = fetched.nextOffset }
        log.logStart = fetched.logStartOffset
        log.leaderHint = fetched.leader
        log.merge(fetched.segments, limit: configuration.maxKnownSegments)
        logs[partition] = log
        return log
    }

    /// Segments asked of the index at once: never more than a partition keeps in memory.
    var indexPageSize: Int { min(1000, configuration.maxKnownSegments) }

    func loadLog(_ partition: PartitionKey, from: Int64) async throws -> PartitionLogState {
        do {
            // The bounds, and the first page of segments from `from` (tail readers page on).
            return try await index.partitionLog(partition, from: max(from, 0), limit: indexPageSize)
        } catch let error as StreamIndexError where error.code == .unknownPartition {
            throw StorageError(.unknownPartition, "partition \(partition) is not known to the index", underlying: error)
        }
    }
}
