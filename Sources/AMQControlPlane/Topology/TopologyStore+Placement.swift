import GRDB

extension Database {
    /// Re-places the partitions of `topicIDs` (all topics when nil) on the cluster's eligible
    /// nodes and writes what changed. A leader change bumps that partition's leader epoch.
    /// - Parameter resize: topic id -> new partition count, for new topics and added partitions.
    /// - Parameter eligible: the nodes placement may use (failover narrows it to nodes known up).
    func applyPlacement(
        in cluster: ClusterRow,
        topicIDs: [String]? = nil,
        resize: [String: Int] = [:],
        eligible: (NodeInfo) -> Bool = \.isEligible
    ) throws -> [PartitionMove] {
        let nodes = try nodes(of: cluster.id).filter(eligible).map { PlacementNode(id: $0.id, zone: $0.zone) }
        let topics = try topics(of: cluster.id).filter { topicIDs?.contains($0.id) ?? true }
        if topics.isEmpty { return [] }
        let current = try partitions(of: cluster.id)
        var byTopic: [String: [Int: PartitionInfo]] = [:]
        for partition in current { byTopic[partition.topic, default: [:]][partition.index] = partition }
        let requests = topics.map { topic in
            let count = resize[topic.id] ?? topic.partitions
            return TopicPlacementRequest(
                topic: topic.name,
                current: (0..<count).map { index in
                    byTopic[topic.name]?[index].map { PartitionAssignment(leader: $0.leader, replicas: $0.replicas) }
                }
            )
        }
        let placed: [String: [PartitionAssignment]]
        do {
            placed = try Placement.place(requests, on: nodes)
        } catch {
            throw ControlPlaneError(
                .noEligibleNodes,
                "cluster \"\(cluster.info.name)\" has no active node to place partitions on; add one with 'amq node add --zone ZONE'"
            )
        }
        var moves: [PartitionMove] = []
        for topic in topics {
            for (index, assignment) in (placed[topic.name] ?? []).enumerated() {
                let old = byTopic[topic.name]?[index]
                if let move = try writeAssignment(assignment, of: topic, index: index, old: old, cluster: cluster) {
                    moves.append(move)
                }
            }
        }
        return moves
    }

    private func writeAssignment(
        _ assignment: PartitionAssignment,
        of topic: TopicInfo,
        index: Int,
        old: PartitionInfo?,
        cluster: ClusterRow
    ) throws -> PartitionMove? {
        if let old, old.leader == assignment.leader, old.replicas == assignment.replicas { return nil }
        let epoch: Int
        if let old {
            epoch = old.leader == assignment.leader ? old.leaderEpoch : old.leaderEpoch + 1
            try execute(
                sql: "UPDATE partition SET leader_node_id = ?, leader_epoch = ? WHERE topic_id = ? AND partition_index = ?",
                arguments: [assignment.leader, epoch, topic.id, index]
            )
            try execute(
                sql: "DELETE FROM partition_replica WHERE topic_id = ? AND partition_index = ?",
                arguments: [topic.id, index]
            )
        } else {
            epoch = 0
            try execute(
                sql: """
                    INSERT INTO partition (topic_id, cluster_id, partition_index, leader_node_id, leader_epoch)
                    VALUES (?, ?, ?, ?, 0)
                    """,
                arguments: [topic.id, cluster.id, index, assignment.leader]
            )
        }
        for (zone, node) in assignment.replicas {
            try execute(
                sql: """
                    INSERT INTO partition_replica (topic_id, partition_index, cluster_id, zone, node_id)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [topic.id, index, cluster.id, zone, node]
            )
        }
        return PartitionMove(
            topic: topic.name, index: index, fromLeader: old?.leader, toLeader: assignment.leader,
            leaderEpoch: epoch, fromReplicas: old?.replicas ?? [:], toReplicas: assignment.replicas
        )
    }
}

extension TopologyStore {
    package struct RebalanceResult: Codable, Sendable, Equatable {
        /// Partitions whose leader moved (each bumps its leader epoch).
        package var leaderMoves: Int
        /// Partitions whose read-only replicas changed but not their leader.
        package var replicaMoves: Int
        package var moves: [PartitionMove]
        package var topologyVersion: Int
        package var dryRun: Bool
    }

    /// Re-places every partition on the eligible nodes, moving as few as possible.
    /// A dry run computes the same moves and rolls them back.
    package func rebalance(_ clusterName: String, dryRun: Bool) async throws -> RebalanceResult {
        let actor = self.actor
        let work: @Sendable (Database) throws -> RebalanceResult = { db in
            let cluster = try db.clusterRow(named: clusterName)
            let moves = try db.applyPlacement(in: cluster)
            var version = cluster.info.topologyVersion
            if !moves.isEmpty && !dryRun {
                version = try db.recordChange(
                    of: cluster, actor: actor, action: "cluster.rebalance", subject: clusterName,
                    before: nil, after: TopologyJSON.encode(moves)
                )
            }
            let leaderMoves = moves.filter { $0.fromLeader != nil && $0.fromLeader != $0.toLeader }.count
            return RebalanceResult(
                leaderMoves: leaderMoves, replicaMoves: moves.count - leaderMoves, moves: moves,
                topologyVersion: version, dryRun: dryRun
            )
        }
        if dryRun {
            return try await database.writeAndRollback(work)
        }
        return try await database.write(work)
    }

    /// Moves leadership off nodes marked down. When some partition's leader is down and an
    /// active node is alive, re-places the cluster's partitions on the alive active nodes, moving
    /// as few as the balance allows (as `rebalance` does; a node that never registered is no
    /// place to fail over to, so it counts as unavailable here). Each moved leader gets
    /// a new epoch, so anything the lost node still tries to commit is refused. A node that comes
    /// back gets partitions again at the next `amq cluster rebalance`, not by itself: leadership
    /// moving back and forth under a flapping node would cost clients more than an uneven spread.
    /// Returns the moves; none when no leader is down or there is nowhere to move to.
    package func failOver(_ clusterName: String) async throws -> [PartitionMove] {
        let actor = self.actor
        let needed: @Sendable (Database, ClusterRow) throws -> Bool = { db, cluster in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (
                        SELECT 1 FROM partition p JOIN node n ON n.cluster_id = p.cluster_id AND n.node_id = p.leader_node_id
                        WHERE p.cluster_id = ? AND n.liveness = 'down'
                    ) AND EXISTS (
                        SELECT 1 FROM node WHERE cluster_id = ? AND admin_state = 'active' AND liveness = 'alive'
                    )
                    """,
                arguments: [cluster.id, cluster.id]
            ) ?? false
        }
        // Most calls find nothing to do: decide on a read, then again inside the write.
        guard try await database.read({ db in try needed(db, try db.clusterRow(named: clusterName)) }) else { return [] }
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            guard try needed(db, cluster) else { return [] }
            let moves = try db.applyPlacement(in: cluster, eligible: { $0.isEligible && $0.liveness == .alive })
            if !moves.isEmpty {
                _ = try db.recordChange(
                    of: cluster, actor: actor, action: "partition.failover", subject: clusterName,
                    before: nil, after: TopologyJSON.encode(moves)
                )
            }
            return moves
        }
    }
}

extension ControlPlaneDatabase {
    /// Runs `body` in a write transaction that is always rolled back (dry runs).
    func writeAndRollback<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .rollback
                }
                guard let result else { throw ControlPlaneError(.databaseFailure, "dry run produced no result") }
                return result
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }
}
