import AMQStreamIndex
import Foundation
import GRDB

extension TopologyStore {
    /// Commits the ranges of one uploaded object, each independently (by ``CommitRules``) and all
    /// in one transaction.
    /// A commit already applied (the same `commitID`) gets the answer it got then, whatever
    /// happened to the log since.
    package func commit(_ cluster: String, _ request: CommitRequest, now: Date = Date()) async throws -> CommitResponse {
        if let range = CommitRules.malformedRange(in: request) {
            throw ControlPlaneError(.invalidArgument, "commit of \(request.objectKey): range \(range.partition) \(range.segment) is malformed")
        }
        return try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            if let answered = try String.fetchOne(
                db, sql: "SELECT outcomes FROM applied_commit WHERE cluster_id = ? AND commit_id = ?", arguments: [clusterRow.id, request.commitID]
            ) {
                return try JSONDecoder().decode(CommitResponse.self, from: Data(answered.utf8))
            }
            let response = try Self.apply(request, in: db, cluster: clusterRow.id, now: now)
            try db.execute(
                sql: "INSERT INTO applied_commit (cluster_id, commit_id, outcomes, applied_at) VALUES (?, ?, ?, ?)",
                arguments: [clusterRow.id, request.commitID, String(decoding: try JSONEncoder().encode(response), as: UTF8.self), now.timeIntervalSince1970]
            )
            return response
        }
    }

    /// The first try of a commit: refused whole when an object it names has no upload intent
    /// young enough, else range by range.
    private static func apply(_ request: CommitRequest, in db: Database, cluster clusterID: Int64, now: Date) throws -> CommitResponse {
        if try !db.lateObjects(of: request, cluster: clusterID, now: now).isEmpty {
            return CommitResponse(outcomes: request.ranges.map { _ in .expired })
        }
        var outcomes: [CommitResponse.Outcome] = []
        var accepted: [CommitRequest.Range] = []
        for range in request.ranges {
            let view = try Row.fetchOne(
                db,
                sql: """
                    SELECT leader_node_id, leader_epoch, next_offset FROM partition
                    WHERE cluster_id = ? AND topic_id = ? AND partition_index = ?
                    """,
                arguments: [clusterID, range.partition.topicID, range.partition.partition]
            ).map { CommitRules.PartitionView(leader: $0["leader_node_id"], leaderEpoch: $0["leader_epoch"], nextOffset: $0["next_offset"]) }
            let outcome = CommitRules.outcome(of: range, from: request.nodeID, partition: view)
            outcomes.append(outcome)
            if outcome == .accepted {
                try db.execute(
                    sql: "UPDATE partition SET next_offset = ? WHERE topic_id = ? AND partition_index = ?",
                    arguments: [range.segment.endOffset, range.partition.topicID, range.partition.partition]
                )
                accepted.append(range)
            }
        }
        guard !accepted.isEmpty else { return CommitResponse(outcomes: outcomes) }
        // Every object an accepted range points into is known from now on. A router object is
        // shared by the leaders its proxy wrote for, so it may be known already.
        for key in Set(accepted.map(\.segment.objectKey)).sorted() {
            try db.execute(
                sql: """
                    INSERT INTO stream_object (cluster_id, object_key, size, node_id, committed_at, delete_after)
                    VALUES (?, ?, ?, ?, ?, NULL)
                    ON CONFLICT (cluster_id, object_key) DO UPDATE SET delete_after = NULL
                    """,
                arguments: [clusterID, key, request.size(of: key) ?? 0, request.nodeID, now.timeIntervalSince1970]
            )
        }
        for range in accepted {
            let segment = range.segment
            try db.execute(
                sql: """
                    INSERT INTO segment (topic_id, partition_index, base_offset, end_offset, cluster_id, object_key, position, length, max_timestamp)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    range.partition.topicID, range.partition.partition, segment.baseOffset, segment.endOffset, clusterID,
                    segment.objectKey, segment.position, segment.length, segment.maxTimestamp,
                ]
            )
        }
        return CommitResponse(outcomes: outcomes)
    }

    /// The partition's bounds and leadership, and up to `limit` segments holding offsets at or
    /// after `from` (the one containing `from` first).
    package func partitionLog(_ cluster: String, _ partition: PartitionKey, from: Int64 = 0, limit: Int = 10_000) async throws -> PartitionLogState {
        try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT leader_node_id, leader_epoch, next_offset, log_start_offset FROM partition
                        WHERE cluster_id = ? AND topic_id = ? AND partition_index = ?
                        """,
                    arguments: [clusterRow.id, partition.topicID, partition.partition]
                )
            else {
                throw ControlPlaneError(.topicNotFound, "partition \(partition) not found in cluster \"\(cluster)\"")
            }
            let segments = try Row.fetchAll(
                db,
                sql: """
                    SELECT base_offset, end_offset, object_key, position, length, max_timestamp FROM segment
                    WHERE topic_id = ? AND partition_index = ? AND end_offset > ?
                    ORDER BY base_offset LIMIT ?
                    """,
                arguments: [partition.topicID, partition.partition, from, limit]
            ).map {
                Segment(
                    baseOffset: $0["base_offset"], endOffset: $0["end_offset"], objectKey: $0["object_key"], position: $0["position"],
                    length: $0["length"], maxTimestamp: $0["max_timestamp"]
                )
            }
            return PartitionLogState(
                partition: partition, leader: row["leader_node_id"], leaderEpoch: row["leader_epoch"],
                logStartOffset: row["log_start_offset"], nextOffset: row["next_offset"], segments: segments
            )
        }
    }

    /// Every object key the index refers to, so garbage collection can tell uploaded-but-never-
    /// committed objects from live ones.
    package func committedObjectKeys(_ cluster: String) async throws -> Set<String> {
        try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            return Set(try String.fetchAll(db, sql: "SELECT object_key FROM stream_object WHERE cluster_id = ?", arguments: [clusterRow.id]))
        }
    }
}
