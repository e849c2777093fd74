import AMQStreamIndex
import NIOCore

/// What a read-only replica learns of a partition from its leader: the committed bounds and the
/// segments past what it knew. Segment metadata only: the bytes are read from the object store.
package struct ReplicaView: Sendable, Hashable {
    package var partition: PartitionKey
    package var committedEnd: Int64
    package var logStart: Int64
    package var segments: [Segment]

    package init(partition: PartitionKey, committedEnd: Int64, logStart: Int64, segments: [Segment]) {
        self.partition = partition
        self.committedEnd = committedEnd
        self.logStart = logStart
        self.segments = segments
    }
}

extension StorageEngine {
    /// The leader's side: `partition`'s committed log past `knownEnd`, for a replica in another zone.
    package func replicaView(_ partition: PartitionKey, after knownEnd: Int64) async throws -> ReplicaView {
        let log = try await partitionLog(partition)
        return ReplicaView(
            partition: partition, committedEnd: log.committedEnd, logStart: log.logStart, segments: log.segments.filter { $0.endOffset > knownEnd }
        )
    }

    /// The replica's side: takes what the leader said, wakes fetches parked on the partition.
    package func follow(_ view: ReplicaView) {
        var log = logs[view.partition] ?? PartitionLogView(committedEnd: view.committedEnd, logStart: view.logStart)
        log.committedEnd = max(log.committedEnd, view.committedEnd)
        log.logStart = max(log.logStart, view.logStart)
        log.merge(view.segments, limit: configuration.maxKnownSegments)
        logs[view.partition] = log
        wakeDataWaiters(view.partition, end: log.committedEnd)
    }

    /// What this agent knows of `partition`'s committed end (a replica asks its leader past it).
    package func knownEnd(_ partition: PartitionKey) -> Int64 {
        logs[partition]?.committedEnd ?? -1
    }

    /// Batches this agent routed to their leader, with the offsets the leader gave them: kept in
    /// the log cache, so consumers in this zone read them without a GET once the replica learns
    /// they are committed.
    package func cacheRouted(_ partition: PartitionKey, offsets: AppendResult, batches: ByteBuffer) {
        var batches = batches
        StoredBatches.assignOffsets(&batches, from: offsets.baseOffset)
        logCache.add(partition, base: offsets.baseOffset, end: offsets.lastOffset + 1, batches: batches)
    }
}
