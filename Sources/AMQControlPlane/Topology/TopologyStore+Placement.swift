import GRDB

extension Database {
    /// Re-places the partitions of `topicIDs` (all topics when nil) on the cluster's eligible
    /// nodes and writes what changed. A leader change bumps that partition's leader epoch.
    /// - Parameter resize: topic id -> new partition count, for new topics and added partitions.
    /// - Parameter eligible: the nodes placement may use (failover narrows it to nodes known up).
    ///   Of those, nodes that are up are preferred whenever there are any: a node that stopped
    ///   (or never came) is not given partitions it cannot serve.
    func applyPlacement(
        in cluster: ClusterRow,
        topicIDs: [String]? = nil,
        resize: [String: Int] = [:],
        eligible: (NodeInfo) -> Bool = \.isEligible
    ) throws -> [PartitionMove] {
        let candidates = try nodes(of: cluster.id).filter(eligible)
        let alive = candidates.filter { $0.liveness == .alive }
        let nodes = (alive.isEmpty ? candidates : alive).map { PlacementNode(id: $0.id, zone: $0.zone) }
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

    func writeAssignment(
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
    ///
    /// When no leader needs to move, replica failover: in each zone with an up node where a
    /// replica sits on a down node or is missing (`ReplicaCoverage.zonesToRepair`), that zone's
    /// replicas are re-placed on its up nodes and nothing else moves (`Placement.placeReplicas`).
    /// A zone with no up node keeps its replicas on down nodes; agents treat a replica whose node
    /// is not alive as none (docs/architecture.md, "Replica failover"). So a zone whose nodes were
    /// all down gets replicas back in the first round after one of them is up again.
    /// Returns the moves, all in one topology version; none when there is nothing to do.
    package func failOver(_ clusterName: String) async throws -> [PartitionMove] {
        let actor = self.actor
        // Most calls find nothing to do: decide on a read, then again inside the write.
        guard try await database.read({ db in try db.failOverMayBeNeeded(try db.clusterRow(named: clusterName)) }) else { return [] }
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let moves: [PartitionMove]
            if try db.leaderFailOverNeeded(cluster) {
                moves = try db.applyPlacement(in: cluster, eligible: { $0.isEligible && $0.liveness == .alive })
            } else {
                moves = try db.applyReplicaFailOver(in: cluster)
            }
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

extension Database {
    /// Some partition's leader is down and some active node is alive to take it.
    func leaderFailOverNeeded(_ cluster: ClusterRow) throws -> Bool {
        try Bool.fetchOne(
            self,
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

    /// The cheap check each round makes before taking the write lock: leader failover is needed,
    /// or a zone with an up node has a replica on a down (or removed) node or a partition led
    /// from another zone with no replica there. The same rule as `ReplicaCoverage.zonesToRepair`,
    /// in SQL so an idle round reads no partition rows.
    func failOverMayBeNeeded(_ cluster: ClusterRow) throws -> Bool {
        if try leaderFailOverNeeded(cluster) { return true }
        return try Bool.fetchOne(
            self,
            sql: """
                WITH up_zone AS (
                    SELECT DISTINCT zone FROM node WHERE cluster_id = ?1 AND admin_state = 'active' AND liveness = 'alive'
                )
                SELECT EXISTS (
                    SELECT 1 FROM partition_replica r
                    JOIN partition p ON p.topic_id = r.topic_id AND p.partition_index = r.partition_index
                    JOIN node l ON l.cluster_id = p.cluster_id AND l.node_id = p.leader_node_id
                    LEFT JOIN node n ON n.cluster_id = r.cluster_id AND n.node_id = r.node_id
                    WHERE r.cluster_id = ?1 AND r.zone IN (SELECT zone FROM up_zone) AND r.zone != l.zone
                        AND (n.node_id IS NULL OR n.liveness = 'down')
                ) OR EXISTS (
                    SELECT 1 FROM partition p
                    JOIN node l ON l.cluster_id = p.cluster_id AND l.node_id = p.leader_node_id
                    JOIN up_zone z ON z.zone != l.zone
                    WHERE p.cluster_id = ?1 AND NOT EXISTS (
                        SELECT 1 FROM partition_replica r
                        WHERE r.topic_id = p.topic_id AND r.partition_index = p.partition_index AND r.zone = z.zone
                    )
                )
                """,
            arguments: [cluster.id]
        ) ?? false
    }

    /// Re-places the replicas of every zone `ReplicaCoverage.zonesToRepair` names on that
    /// zone's up nodes, leaving leaders and other zones alone, and writes what changed.
    func applyReplicaFailOver(in cluster: ClusterRow) throws -> [PartitionMove] {
        let nodes = try nodes(of: cluster.id)
        let current = try partitions(of: cluster.id)
        let zones = ReplicaCoverage.zonesToRepair(partitions: current, nodes: nodes)
        if zones.isEmpty { return [] }
        let topics = try topics(of: cluster.id)
        var byTopic: [String: [Int: PartitionInfo]] = [:]
        for partition in current { byTopic[partition.topic, default: [:]][partition.index] = partition }
        var requests = topics.map { topic in
            TopicPlacementRequest(
                topic: topic.name,
                current: (0..<topic.partitions).map { index in
                    byTopic[topic.name]?[index].map { PartitionAssignment(leader: $0.leader, replicas: $0.replicas) }
                }
            )
        }
        let up = nodes.filter(ReplicaCoverage.isUp).map { PlacementNode(id: $0.id, zone: $0.zone) }
        let zoneOfLeader = Dictionary(nodes.map { ($0.id, $0.zone) }, uniquingKeysWith: { first, _ in first })
        // Zone by zone: each pass changes only its zone's replicas, so the order does not matter.
        for zone in zones {
            let placed = Placement.placeReplicas(requests, inZone: zone, on: up, zoneOfLeader: zoneOfLeader)
            requests = requests.map { TopicPlacementRequest(topic: $0.topic, current: placed[$0.topic] ?? $0.current) }
        }
        var moves: [PartitionMove] = []
        for (topic, request) in zip(topics, requests) {
            for (index, assignment) in request.current.enumerated() {
                guard let assignment, let old = byTopic[topic.name]?[index] else { continue }
                if let move = try writeAssignment(assignment, of: topic, index: index, old: old, cluster: cluster) {
                    moves.append(move)
                }
            }
        }
        return moves
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
