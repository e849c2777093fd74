import Foundation
import GRDB

extension TopologyStore {
    /// Kafka's limit on partitions per topic we accept from one request.
    package static let maxPartitions = 10_000

    package struct TopicDescription: Codable, Sendable, Equatable {
        package var topic: TopicInfo
        package var partitions: [PartitionInfo]
    }

    package func topics(_ clusterName: String) async throws -> [TopicInfo] {
        try await database.read { db in try db.topics(of: db.clusterRow(named: clusterName).id) }
    }

    package func describeTopic(_ clusterName: String, _ name: String) async throws -> TopicDescription {
        try await database.read { db in
            let cluster = try db.clusterRow(named: clusterName)
            let topic = try db.topic(named: name, of: cluster)
            return TopicDescription(topic: topic, partitions: try db.partitions(of: cluster.id, topicID: topic.id))
        }
    }

    package func partitions(_ clusterName: String, topic: String? = nil) async throws -> [PartitionInfo] {
        try await database.read { db in
            let cluster = try db.clusterRow(named: clusterName)
            let topicID = try topic.map { try db.topic(named: $0, of: cluster).id }
            return try db.partitions(of: cluster.id, topicID: topicID)
        }
    }

    /// Creates a topic and places its partitions.
    /// - Parameter validateOnly: run every check and the placement, then roll back (Kafka's
    ///   CreateTopics `ValidateOnly`); the returned description is what would have been created.
    package func createTopic(
        _ clusterName: String,
        name: String,
        partitions: Int,
        config: TopicConfig,
        validateOnly: Bool = false
    ) async throws -> TopicDescription {
        try Validation.name(name, what: "topic name", maxLength: 249, code: .invalidTopicName)
        try Self.validatePartitions(partitions)
        let actor = self.actor
        let change: @Sendable (Database) throws -> TopicDescription = { db in
            let cluster = try db.clusterRow(named: clusterName)
            if (try? db.topic(named: name, of: cluster)) != nil {
                throw ControlPlaneError(
                    .topicExists,
                    "topic \"\(name)\" already exists; change it with 'amq topic alter \(name)'"
                )
            }
            let id = UUID().uuidString.lowercased()
            try db.execute(
                sql: """
                    INSERT INTO topic (id, cluster_id, name, partitions, route_enabled, retention_ms, retention_bytes,
                        linger_ms, configs, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    id, cluster.id, name, partitions, config.routeEnabled, config.retentionMs, config.retentionBytes,
                    config.lingerMs, TopologyJSON.encode(config.extra), Date().timeIntervalSince1970,
                ]
            )
            _ = try db.applyPlacement(in: cluster, topicIDs: [id])
            let topic = try db.topic(named: name, of: cluster)
            let description = TopicDescription(topic: topic, partitions: try db.partitions(of: cluster.id, topicID: id))
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "topic.create", subject: name,
                before: nil, after: TopologyJSON.encode(description)
            )
            return description
        }
        return try await validateOnly ? database.writeAndRollBack(change) : database.write(change)
    }

    /// Changes a topic's configs and/or grows its partitions, in one transaction.
    package func alterTopic(
        _ clusterName: String,
        name: String,
        set assignments: [(key: String, value: String)] = [],
        reset keys: [String] = [],
        partitions newCount: Int? = nil
    ) async throws -> TopicDescription {
        if let newCount { try Self.validatePartitions(newCount) }
        let actor = self.actor
        let assignments = assignments.map { TopicConfigAssignment(key: $0.key, value: $0.value) }
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            return try db.alterTopic(in: cluster, name: name, actor: actor, set: assignments, reset: keys, partitions: newCount)
        }
    }

    /// Grows a topic to `count` partitions (Kafka's CreatePartitions): unlike `amq topic alter
    /// --partitions`, asking for the current count is refused, as Kafka refuses it.
    /// - Parameter validateOnly: check and place, then roll back.
    package func createPartitions(
        _ clusterName: String,
        topic name: String,
        count: Int,
        validateOnly: Bool = false
    ) async throws -> TopicDescription {
        try Self.validatePartitions(count)
        let actor = self.actor
        let change: @Sendable (Database) throws -> TopicDescription = { db in
            let cluster = try db.clusterRow(named: clusterName)
            let current = try db.topic(named: name, of: cluster).partitions
            guard count > current else {
                throw ControlPlaneError(
                    .invalidPartitions,
                    "topic \"\(name)\" already has \(current) partitions; ask for more than \(current), topics only grow"
                )
            }
            return try db.alterTopic(in: cluster, name: name, actor: actor, set: [], reset: [], partitions: count)
        }
        return try await validateOnly ? database.writeAndRollBack(change) : database.write(change)
    }

    /// Turns inter-zone routing on or off for a topic. Agents pick it up with the new version.
    package func setRoute(_ clusterName: String, topic: String, enabled: Bool) async throws -> TopicDescription {
        try await alterTopic(clusterName, name: topic, set: [(TopicConfig.routeEnabledKey, String(enabled))])
    }

    package func deleteTopic(_ clusterName: String, name: String) async throws {
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let topic = try db.topic(named: name, of: cluster)
            try db.execute(sql: "DELETE FROM topic WHERE id = ?", arguments: [topic.id])
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "topic.delete", subject: name,
                before: TopologyJSON.encode(topic), after: nil
            )
        }
    }

    private static func validatePartitions(_ count: Int) throws(ControlPlaneError) {
        guard (1...maxPartitions).contains(count) else {
            throw ControlPlaneError(
                .invalidPartitions,
                "--partitions must be between 1 and \(maxPartitions), not \(count)"
            )
        }
    }
}

/// A `key=value` pair that can cross into a `@Sendable` transaction closure.
private struct TopicConfigAssignment: Sendable {
    var key: String
    var value: String
}

extension Database {
    /// The body of ``TopologyStore/alterTopic(_:name:set:reset:partitions:)``, shared with
    /// ``TopologyStore/createPartitions(_:topic:count:validateOnly:)`` so both validate alike.
    fileprivate func alterTopic(
        in cluster: ClusterRow,
        name: String,
        actor: String,
        set assignments: [TopicConfigAssignment],
        reset keys: [String],
        partitions newCount: Int?
    ) throws -> TopologyStore.TopicDescription {
        let db = self
        let before = try db.topic(named: name, of: cluster)
        var config = before.config
        for key in keys { try config.reset(key) }
        for assignment in assignments { try config.set(assignment.key, assignment.value) }
        if let newCount, newCount < before.partitions {
            throw ControlPlaneError(
                .invalidPartitions,
                "topic \"\(name)\" has \(before.partitions) partitions; Kafka topics can only grow, so --partitions must be at least \(before.partitions)"
            )
        }
        try db.updateTopic(before.id, config: config, partitions: newCount ?? before.partitions)
        if let newCount, newCount > before.partitions {
            _ = try db.applyPlacement(in: cluster, topicIDs: [before.id], resize: [before.id: newCount])
        }
        let after = try db.topic(named: name, of: cluster)
        _ = try db.recordChange(
            of: cluster, actor: actor, action: "topic.alter", subject: name,
            before: TopologyJSON.encode(before), after: TopologyJSON.encode(after)
        )
        return TopologyStore.TopicDescription(topic: after, partitions: try db.partitions(of: cluster.id, topicID: after.id))
    }

    fileprivate func updateTopic(_ id: String, config: TopicConfig, partitions: Int) throws {
        try execute(
            sql: """
                UPDATE topic SET partitions = ?, route_enabled = ?, retention_ms = ?, retention_bytes = ?, linger_ms = ?,
                    configs = ?
                WHERE id = ?
                """,
            arguments: [
                partitions, config.routeEnabled, config.retentionMs, config.retentionBytes, config.lingerMs,
                TopologyJSON.encode(config.extra), id,
            ]
        )
    }
}
