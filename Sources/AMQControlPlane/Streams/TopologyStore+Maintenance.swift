import AMQStreamIndex
import Foundation
import GRDB

/// Retention, DeleteRecords, compaction swaps and the bookkeeping of unreferenced objects. Each
/// is one transaction (retention one per partition and chunk), so readers see a partition's
/// index before or after, never half-way.
extension TopologyStore {
    /// Drops, per partition, the oldest segments past the topic's `retention.ms` (by their newest
    /// record's timestamp) or beyond `retention.bytes`, moving the log start offset past them.
    /// The active tail segment is never dropped by size alone. Returns how many segments went.
    @discardableResult
    package func applyRetention(_ cluster: String, now: Date = Date()) async throws -> Int {
        let (clusterID, topics) = try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            return (clusterRow.id, try db.topics(of: clusterRow.id))
        }
        var dropped = 0
        // One partition and at most `retentionChunk` segments per transaction: commits and
        // heartbeats wait for a chunk, never for the whole pass (issue 11, finding 14).
        for topic in topics where topic.config.retentionMs >= 0 || topic.config.retentionBytes >= 0 {
            let cutoff = topic.config.retentionMs < 0 ? Int64.min : Int64(now.timeIntervalSince1970 * 1000) - topic.config.retentionMs
            for index in 0..<topic.partitions {
                while true {
                    let (count, more) = try await database.write { db in
                        try db.retain(topicID: topic.id, partition: index, cutoff: cutoff, retentionBytes: topic.config.retentionBytes, chunk: Self.retentionChunk)
                    }
                    dropped += count
                    if !more { break }
                }
            }
        }
        // Commit answers outlive any retry of theirs by far.
        try await database.write { db in
            try db.execute(
                sql: "DELETE FROM applied_commit WHERE cluster_id = ? AND applied_at < ?",
                arguments: [clusterID, now.timeIntervalSince1970 - 86_400]
            )
        }
        return dropped
    }

    /// Segments retention looks at per transaction.
    static let retentionChunk = 1_000

    /// Kafka's DeleteRecords: the log starts at `offset` (at most the high watermark) from now on.
    /// Returns the new log start offset.
    package func deleteRecords(_ cluster: String, _ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT next_offset, log_start_offset FROM partition WHERE cluster_id = ? AND topic_id = ? AND partition_index = ?",
                    arguments: [clusterRow.id, partition.topicID, partition.partition]
                )
            else { throw ControlPlaneError(.topicNotFound, "partition \(partition) not found in cluster \"\(cluster)\"") }
            let next: Int64 = row["next_offset"]
            let start: Int64 = row["log_start_offset"]
            guard offset >= 0, offset <= next else {
                throw ControlPlaneError(.invalidArgument, "cannot delete records before \(offset): the log of \(partition) ends at \(next)")
            }
            guard offset > start else { return start }
            _ = try db.moveLogStart(topicID: partition.topicID, partition: partition.partition, to: offset)
            return offset
        }
    }

    /// Swaps `replaced` (consecutive segments of one partition, by base offset) for one segment in
    /// a new object, if they are all still there; returns false, changing nothing, when retention
    /// or another compaction got there first.
    package func replaceSegments(
        _ cluster: String, _ partition: PartitionKey, replaced: [Int64], with segment: Segment, objectSize: Int, nodeID: Int
    ) async throws -> Bool {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let present = try Row.fetchAll(
                db,
                sql: "SELECT base_offset, end_offset FROM segment WHERE topic_id = ? AND partition_index = ? AND base_offset >= ? AND base_offset < ? ORDER BY base_offset",
                arguments: [partition.topicID, partition.partition, segment.baseOffset, segment.endOffset]
            )
            guard present.map({ $0["base_offset"] as Int64 }) == replaced,
                present.first.map({ $0["base_offset"] as Int64 }) == segment.baseOffset,
                present.last.map({ $0["end_offset"] as Int64 }) == segment.endOffset
            else { return false }
            try db.execute(
                sql: "INSERT INTO stream_object (cluster_id, object_key, size, node_id, committed_at, delete_after) VALUES (?, ?, ?, ?, ?, NULL)",
                arguments: [clusterRow.id, segment.objectKey, objectSize, nodeID, Date().timeIntervalSince1970]
            )
            try db.execute(
                sql: "DELETE FROM segment WHERE topic_id = ? AND partition_index = ? AND base_offset >= ? AND base_offset < ?",
                arguments: [partition.topicID, partition.partition, segment.baseOffset, segment.endOffset]
            )
            try db.execute(
                sql: """
                    INSERT INTO segment (topic_id, partition_index, base_offset, end_offset, cluster_id, object_key, position, length, max_timestamp)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    partition.topicID, partition.partition, segment.baseOffset, segment.endOffset, clusterRow.id, segment.objectKey,
                    segment.position, segment.length, segment.maxTimestamp,
                ]
            )
            return true
        }
    }

    /// Runs of at least `minSegments` consecutive segments of one partition, each smaller than
    /// `smallerThan` bytes and together at most `maxBytes`: what compaction should merge.
    package func compactionCandidates(_ cluster: String, minSegments: Int, smallerThan: Int, maxBytes: Int) async throws -> [(PartitionKey, [Segment])] {
        try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT topic_id, partition_index, base_offset, end_offset, object_key, position, length, max_timestamp FROM segment
                    WHERE cluster_id = ? ORDER BY topic_id, partition_index, base_offset
                    """,
                arguments: [clusterRow.id]
            )
            var result: [(PartitionKey, [Segment])] = []
            var run: [Segment] = []
            var runKey: PartitionKey?
            func close() {
                if let runKey, run.count >= minSegments { result.append((runKey, run)) }
                run = []
            }
            for row in rows {
                let key = PartitionKey(topicID: row["topic_id"], partition: row["partition_index"])
                let segment = Segment(
                    baseOffset: row["base_offset"], endOffset: row["end_offset"], objectKey: row["object_key"], position: row["position"],
                    length: row["length"], maxTimestamp: row["max_timestamp"]
                )
                if key != runKey { close(); runKey = key }
                if segment.length >= smallerThan || run.reduce(segment.length, { $0 + $1.length }) > maxBytes { close() }
                if segment.length < smallerThan { run.append(segment) }
            }
            close()
            return result
        }
    }

    /// Marks objects no segment refers to any more as deletable after `grace` (so reads already
    /// on their way finish), and returns those whose time has come.
    package func objectsDueForDeletion(_ cluster: String, now: Date = Date(), grace: TimeInterval) async throws -> [String] {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            try db.execute(
                sql: """
                    UPDATE stream_object SET delete_after = ?
                    WHERE cluster_id = ? AND delete_after IS NULL
                    AND NOT EXISTS (SELECT 1 FROM segment WHERE segment.cluster_id = stream_object.cluster_id AND segment.object_key = stream_object.object_key)
                    """,
                arguments: [now.timeIntervalSince1970 + grace, clusterRow.id]
            )
            return try String.fetchAll(
                db, sql: "SELECT object_key FROM stream_object WHERE cluster_id = ? AND delete_after <= ? ORDER BY object_key",
                arguments: [clusterRow.id, now.timeIntervalSince1970]
            )
        }
    }

    /// Forgets deleted objects (only those still unreferenced).
    package func forgetObjects(_ cluster: String, _ keys: [String]) async throws {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            for key in keys {
                try db.execute(
                    sql: """
                        DELETE FROM stream_object WHERE cluster_id = ? AND object_key = ?
                        AND NOT EXISTS (SELECT 1 FROM segment WHERE segment.cluster_id = stream_object.cluster_id AND segment.object_key = stream_object.object_key)
                        """,
                    arguments: [clusterRow.id, key]
                )
            }
        }
    }
}

extension Database {
    /// Drops segments wholly below `offset` and sets the log start offset; returns the count.
    /// Drops the leading segments of one partition that retention no longer keeps, looking at
    /// `chunk` of them at most; returns how many it dropped and whether it may drop more.
    fileprivate func retain(topicID: String, partition: Int, cutoff: Int64, retentionBytes: Int64, chunk: Int) throws -> (dropped: Int, more: Bool) {
        let totals = try Row.fetchOne(
            self, sql: "SELECT COUNT(*) AS count, COALESCE(SUM(length), 0) AS total FROM segment WHERE topic_id = ? AND partition_index = ?",
            arguments: [topicID, partition]
        )
        let count: Int = totals?["count"] ?? 0
        var total: Int64 = totals?["total"] ?? 0
        guard count > 0 else { return (0, false) }
        let segments = try Row.fetchAll(
            self,
            sql: "SELECT end_offset, length, max_timestamp FROM segment WHERE topic_id = ? AND partition_index = ? ORDER BY base_offset LIMIT ?",
            arguments: [topicID, partition, chunk]
        )
        var newStart: Int64?
        var looked = 0
        for (position, segment) in segments.enumerated() {
            let isLast = position == count - 1
            let tooOld = (segment["max_timestamp"] as Int64) < cutoff
            let tooBig = retentionBytes >= 0 && total > retentionBytes && !isLast
            guard tooOld || tooBig else { break }
            total -= segment["length"] as Int64
            newStart = segment["end_offset"]
            looked += 1
        }
        guard let newStart else { return (0, false) }
        return (try moveLogStart(topicID: topicID, partition: partition, to: newStart), looked == chunk)
    }

    fileprivate func moveLogStart(topicID: String, partition: Int, to offset: Int64) throws -> Int {
        try execute(
            sql: "DELETE FROM segment WHERE topic_id = ? AND partition_index = ? AND end_offset <= ?",
            arguments: [topicID, partition, offset]
        )
        let dropped = changesCount
        try execute(
            sql: "UPDATE partition SET log_start_offset = MAX(log_start_offset, ?) WHERE topic_id = ? AND partition_index = ?",
            arguments: [offset, topicID, partition]
        )
        return dropped
    }
}
