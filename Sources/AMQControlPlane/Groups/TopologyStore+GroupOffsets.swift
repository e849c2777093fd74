import Foundation
import GRDB

/// Committed consumer-group offsets. Offsets are not topology: they bump no version and write no
/// audit row (consumers commit every few seconds per partition), but they are durable in SQLite,
/// so they survive controller restarts like everything else there.
/// A partition by topic name, as Kafka requests name them (OffsetDelete, DeleteRecords).
package struct GroupPartitionRef: Codable, Sendable, Hashable {
    package var topic: String
    package var partition: Int

    package init(topic: String, partition: Int) {
        self.topic = topic
        self.partition = partition
    }
}

extension TopologyStore {
    /// Longest group id accepted; Kafka sets none, but a bound keeps rows and URLs sane.
    package static let maxGroupIDLength = 1024

    /// Commits `offsets` for `group`, all in one transaction, each judged on its own: entries
    /// naming a partition that does not exist are reported and skipped, the rest are stored.
    /// - Returns: one result per entry, in the order given.
    package func commitOffsets(_ cluster: String, group: String, _ offsets: [GroupOffset]) async throws -> [GroupOffsetResult] {
        try Self.validateGroup(group)
        return try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let now = Date().timeIntervalSince1970
            var topics: [String: TopicInfo?] = [:]
            var results: [GroupOffsetResult] = []
            results.reserveCapacity(offsets.count)
            for entry in offsets {
                let topic: TopicInfo?
                if let known = topics[entry.topic] {
                    topic = known
                } else {
                    topic = try db.topicIfExists(named: entry.topic, of: clusterRow.id)
                    topics[entry.topic] = topic
                }
                guard let topic, (0..<topic.partitions).contains(entry.partition) else {
                    results.append(GroupOffsetResult(topic: entry.topic, partition: entry.partition, outcome: .unknownTopicOrPartition))
                    continue
                }
                if let metadata = entry.metadata, metadata.utf8.count > GroupOffset.maxMetadataBytes {
                    results.append(GroupOffsetResult(topic: entry.topic, partition: entry.partition, outcome: .offsetMetadataTooLarge))
                    continue
                }
                try db.upsertGroupOffset(
                    clusterID: clusterRow.id, group: group, topicID: topic.id, partition: entry.partition,
                    offset: entry.offset, leaderEpoch: entry.leaderEpoch, metadata: entry.metadata, at: now
                )
                results.append(GroupOffsetResult(topic: entry.topic, partition: entry.partition, outcome: .ok))
            }
            return results
        }
    }

    /// The offsets `group` committed, for `topics` (nil: every topic), ordered by topic and
    /// partition. Partitions without a commit are absent; OffsetFetch answers them with -1.
    package func fetchOffsets(_ cluster: String, group: String, topics: [String]?) async throws -> [GroupOffset] {
        try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            var sql = """
                SELECT t.name AS topic, g.partition_index, g.committed_offset, g.leader_epoch, g.metadata, g.committed_at
                FROM group_offset g JOIN topic t ON t.id = g.topic_id
                WHERE g.cluster_id = ? AND g.group_id = ?
                """
            var arguments: StatementArguments = [clusterRow.id, group]
            if let topics {
                guard !topics.isEmpty else { return [] }
                sql += " AND t.name IN (\(databaseQuestionMarks(count: topics.count)))"
                arguments += StatementArguments(topics)
            }
            sql += " ORDER BY t.name, g.partition_index"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                GroupOffset(
                    topic: row["topic"], partition: row["partition_index"], offset: row["committed_offset"],
                    leaderEpoch: row["leader_epoch"], metadata: row["metadata"],
                    committedAt: Date(timeIntervalSince1970: row["committed_at"])
                )
            }
        }
    }

    /// Every group that has committed offsets in the cluster, sorted. (Groups that never
    /// committed live only in the agents' coordinators.)
    package func groupsWithOffsets(_ cluster: String) async throws -> [String] {
        try await database.read { db in
            let clusterRow = try db.clusterRow(named: cluster)
            return try String.fetchAll(
                db, sql: "SELECT DISTINCT group_id FROM group_offset WHERE cluster_id = ? ORDER BY group_id",
                arguments: [clusterRow.id]
            )
        }
    }

    /// Forgets every offset of `group` (Kafka's DeleteGroups); returns how many were removed.
    @discardableResult
    /// Deletes `group`'s committed offsets: all of them, or those of `partitions` (topic name
    /// and index; unknown ones are skipped). Returns how many went.
    package func deleteOffsets(_ cluster: String, group: String, partitions: [GroupPartitionRef]? = nil) async throws -> Int {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            guard let partitions else {
                try db.execute(sql: "DELETE FROM group_offset WHERE cluster_id = ? AND group_id = ?", arguments: [clusterRow.id, group])
                return db.changesCount
            }
            var deleted = 0
            for partition in partitions {
                guard let topic = try? db.topic(named: partition.topic, of: clusterRow) else { continue }
                try db.execute(
                    sql: "DELETE FROM group_offset WHERE cluster_id = ? AND group_id = ? AND topic_id = ? AND partition_index = ?",
                    arguments: [clusterRow.id, group, topic.id, partition.partition]
                )
                deleted += db.changesCount
            }
            return deleted
        }
    }

    /// Sets `group`'s committed offsets of `topic` to the given offsets per partition (for
    /// `amq group reset-offsets`; the caller resolves earliest/latest to numbers). The leader
    /// epoch is cleared and so is the metadata: neither describes the new position.
    /// - Throws: `topicNotFound`, or `invalidArgument` for a partition the topic lacks or a
    ///   negative offset; then nothing is changed.
    @discardableResult
    package func resetOffsets(_ cluster: String, group: String, topic: String, to offsets: [Int: Int64]) async throws -> [GroupOffset] {
        try Self.validateGroup(group)
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let topicInfo = try db.topic(named: topic, of: clusterRow)
            let now = Date().timeIntervalSince1970
            for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
                guard (0..<topicInfo.partitions).contains(partition) else {
                    throw ControlPlaneError(
                        .invalidArgument,
                        "topic \"\(topic)\" has partitions 0–\(topicInfo.partitions - 1), not \(partition)"
                    )
                }
                guard offset >= 0 else {
                    throw ControlPlaneError(.invalidArgument, "offset \(offset) for \(topic)-\(partition) is negative")
                }
                try db.upsertGroupOffset(
                    clusterID: clusterRow.id, group: group, topicID: topicInfo.id, partition: partition,
                    offset: offset, leaderEpoch: -1, metadata: nil, at: now
                )
            }
        }
        return try await fetchOffsets(cluster, group: group, topics: [topic])
    }

    private static func validateGroup(_ group: String) throws(ControlPlaneError) {
        guard !group.isEmpty, group.utf8.count <= maxGroupIDLength else {
            throw ControlPlaneError(
                .invalidArgument,
                "group id must be 1–\(maxGroupIDLength) bytes, not \(group.utf8.count)"
            )
        }
    }
}

extension Database {
    func topicIfExists(named name: String, of clusterID: Int64) throws -> TopicInfo? {
        try Row.fetchOne(self, sql: "SELECT * FROM topic WHERE cluster_id = ? AND name = ?", arguments: [clusterID, name])
            .map { try TopicInfo(row: $0) }
    }

    fileprivate func upsertGroupOffset(
        clusterID: Int64, group: String, topicID: String, partition: Int, offset: Int64, leaderEpoch: Int32,
        metadata: String?, at time: Double
    ) throws {
        try execute(
            sql: """
                INSERT INTO group_offset (cluster_id, group_id, topic_id, partition_index, committed_offset, leader_epoch,
                    metadata, committed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (cluster_id, group_id, topic_id, partition_index) DO UPDATE SET
                    committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
                    metadata = excluded.metadata, committed_at = excluded.committed_at
                """,
            arguments: [clusterID, group, topicID, partition, offset, leaderEpoch, metadata, time]
        )
    }
}
