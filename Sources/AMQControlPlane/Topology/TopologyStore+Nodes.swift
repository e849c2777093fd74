import Foundation
import GRDB

extension TopologyStore {
    package func nodes(_ clusterName: String) async throws -> [NodeInfo] {
        try await database.read { db in try db.nodes(of: db.clusterRow(named: clusterName).id) }
    }

    /// Adds a node record in `zone`. Placement is not changed: like adding a Kafka broker, the new
    /// node takes partitions at the next `amq cluster rebalance`.
    package func addNode(_ clusterName: String, zone: String, id: Int? = nil, host: String = "127.0.0.1") async throws -> NodeInfo {
        if let id, id < 0 {
            throw ControlPlaneError(.invalidArgument, "node id must be 0 or more, not \(id)")
        }
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            try cluster.requireZone(zone)
            let nodeID = try id ?? db.nextNodeID(cluster.id)
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM node WHERE cluster_id = ? AND node_id = ?", arguments: [cluster.id, nodeID]) != nil {
                throw ControlPlaneError(.nodeExists, "node \(nodeID) already exists; omit --id to take the next free one")
            }
            try db.insertNode(clusterID: cluster.id, nodeID: nodeID, name: nil, zone: zone, host: host)
            let node = try db.node(nodeID, of: cluster)
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "node.add", subject: "node \(nodeID)",
                before: nil, after: TopologyJSON.encode(node)
            )
            return node
        }
    }

    /// Marks a node drained and moves its leaders and replicas to the other nodes.
    package func drainNode(_ clusterName: String, id: Int) async throws -> [PartitionMove] {
        try await setAdminState(clusterName, id: id, to: .drained, action: "node.drain")
    }

    /// Makes a drained node active again; it takes partitions at the next rebalance.
    package func activateNode(_ clusterName: String, id: Int) async throws -> [PartitionMove] {
        try await setAdminState(clusterName, id: id, to: .active, action: "node.activate")
    }

    private func setAdminState(_ clusterName: String, id: Int, to state: NodeAdminState, action: String) async throws -> [PartitionMove] {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let before = try db.node(id, of: cluster)
            try db.execute(
                sql: "UPDATE node SET admin_state = ? WHERE cluster_id = ? AND node_id = ?",
                arguments: [state.rawValue, cluster.id, id]
            )
            let moves = state == .drained ? try db.applyPlacement(in: cluster) : []
            _ = try db.recordChange(
                of: cluster, actor: actor, action: action, subject: "node \(id)",
                before: TopologyJSON.encode(before), after: TopologyJSON.encode(moves)
            )
            return moves
        }
    }

    /// Removes a node. It must hold nothing: drain it first, or pass `force` to drain and remove
    /// in one transaction.
    package func removeNode(_ clusterName: String, id: Int, force: Bool) async throws -> NodeInfo {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let node = try db.node(id, of: cluster)
            if force {
                try db.execute(
                    sql: "UPDATE node SET admin_state = 'drained' WHERE cluster_id = ? AND node_id = ?",
                    arguments: [cluster.id, id]
                )
                _ = try db.applyPlacement(in: cluster)
            }
            let held = try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COUNT(*) FROM partition WHERE cluster_id = ?1 AND leader_node_id = ?2)
                         + (SELECT COUNT(*) FROM partition_replica WHERE cluster_id = ?1 AND node_id = ?2)
                    """,
                arguments: [cluster.id, id]
            ) ?? 0
            if held > 0 {
                throw ControlPlaneError(
                    .conflict,
                    "node \(id) still holds \(held) leader or replica assignments; run 'amq node drain \(id)' first, or pass --force"
                )
            }
            try db.execute(sql: "DELETE FROM node WHERE cluster_id = ? AND node_id = ?", arguments: [cluster.id, id])
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "node.remove", subject: "node \(id)",
                before: TopologyJSON.encode(node), after: nil
            )
            return node
        }
    }

    // MARK: Agent lifecycle (called by the controller)

    package struct Registration: Codable, Sendable, Equatable {
        /// The node id, or nil to be given one by `name` (a new id the first time).
        package var nodeID: Int?
        package var name: String?
        package var zone: String
        package var host: String
        package var kafkaPort: Int?
        package var rpcPort: Int?
        package var adminPort: Int?
        package var pid: Int?
        /// Kafka listeners by name → port, when the agent has more than its primary one.
        package var listeners: [String: Int]?

        package init(
            nodeID: Int?, name: String?, zone: String, host: String, kafkaPort: Int?, rpcPort: Int?,
            adminPort: Int?, pid: Int?, listeners: [String: Int]? = nil
        ) {
            self.listeners = listeners
            self.nodeID = nodeID
            self.name = name
            self.zone = zone
            self.host = host
            self.kafkaPort = kafkaPort
            self.rpcPort = rpcPort
            self.adminPort = adminPort
            self.pid = pid
        }
    }

    /// Records an agent's addresses and marks it alive. An unknown node id or name joins the
    /// cluster as a new node of its zone; a known node must stay in its zone.
    package func register(_ clusterName: String, _ registration: Registration) async throws -> NodeInfo {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            try cluster.requireZone(registration.zone)
            let nodeID = try db.resolveNodeID(registration, cluster: cluster)
            let existing = try? db.node(nodeID, of: cluster)
            if let existing, existing.zone != registration.zone {
                throw ControlPlaneError(
                    .conflict,
                    "node \(nodeID) belongs to zone \"\(existing.zone)\", not \"\(registration.zone)\"; start the agent with --zone \(existing.zone)"
                )
            }
            if existing == nil {
                try db.insertNode(clusterID: cluster.id, nodeID: nodeID, name: registration.name, zone: registration.zone, host: registration.host)
            }
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE node SET name = COALESCE(?, name), host = ?, kafka_port = ?, rpc_port = ?, admin_port = ?,
                        pid = ?, liveness = 'alive', last_heartbeat = ?, registered_at = ?, listeners = ?
                    WHERE cluster_id = ? AND node_id = ?
                    """,
                arguments: [
                    registration.name, registration.host, registration.kafkaPort, registration.rpcPort,
                    registration.adminPort, registration.pid, now, now, registration.listeners.map(TopologyJSON.encode), cluster.id, nodeID,
                ]
            )
            let node = try db.node(nodeID, of: cluster)
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "node.register", subject: "node \(nodeID)",
                before: existing.map(TopologyJSON.encode), after: TopologyJSON.encode(node)
            )
            return node
        }
    }

    package enum HeartbeatOutcome: Sendable, Equatable {
        case alive
        /// The node was down or stopped and is back: the topology changed.
        case revived
    }

    /// Records a heartbeat. Only a change of liveness is a topology change.
    package func heartbeat(_ clusterName: String, nodeID: Int, ackedVersion: Int?, pid: Int?) async throws -> HeartbeatOutcome {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let node = try db.node(nodeID, of: cluster)
            try db.execute(
                sql: """
                    UPDATE node SET liveness = 'alive', last_heartbeat = ?, acked_version = ?, pid = COALESCE(?, pid)
                    WHERE cluster_id = ? AND node_id = ?
                    """,
                arguments: [Date().timeIntervalSince1970, ackedVersion, pid, cluster.id, nodeID]
            )
            guard node.liveness != .alive else { return .alive }
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "node.alive", subject: "node \(nodeID)",
                before: node.liveness.rawValue, after: NodeLiveness.alive.rawValue
            )
            return .revived
        }
    }

    /// Records that an agent is shutting down cleanly.
    package func leave(_ clusterName: String, nodeID: Int) async throws {
        try await setLiveness(clusterName, nodeIDs: [nodeID], to: .stopped, action: "node.stopped")
    }

    /// Marks down every alive node whose last heartbeat is older than `cutoff`, and every node
    /// that stopped cleanly before `stoppedBefore` (its partitions then fail over: it is not
    /// coming back soon, or not under its name); returns their ids.
    package func markDown(_ clusterName: String, heartbeatBefore cutoff: Date, stoppedBefore: Date? = nil) async throws -> [Int] {
        let stale = try await database.read { db in
            let cluster = try db.clusterRow(named: clusterName)
            return try Int.fetchAll(
                db,
                sql: """
                    SELECT node_id FROM node WHERE cluster_id = ?
                        AND ((liveness = 'alive' AND last_heartbeat < ?) OR (liveness = 'stopped' AND last_heartbeat < ?))
                    """,
                arguments: [cluster.id, cutoff.timeIntervalSince1970, (stoppedBefore ?? .distantPast).timeIntervalSince1970]
            )
        }
        if stale.isEmpty { return [] }
        // Re-check inside the write: a heartbeat may have landed since the read.
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            var downed: [Int] = []
            for id in stale {
                let before = try db.node(id, of: cluster).liveness
                try db.execute(
                    sql: """
                        UPDATE node SET liveness = 'down'
                        WHERE cluster_id = ? AND node_id = ?
                            AND ((liveness = 'alive' AND last_heartbeat < ?) OR (liveness = 'stopped' AND last_heartbeat < ?))
                        """,
                    arguments: [cluster.id, id, cutoff.timeIntervalSince1970, (stoppedBefore ?? .distantPast).timeIntervalSince1970]
                )
                if db.changesCount > 0 {
                    downed.append(id)
                    _ = try db.recordChange(
                        of: cluster, actor: actor, action: "node.down", subject: "node \(id)",
                        before: before.rawValue, after: NodeLiveness.down.rawValue
                    )
                }
            }
            return downed
        }
    }

    private func setLiveness(_ clusterName: String, nodeIDs: [Int], to liveness: NodeLiveness, action: String) async throws {
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            for id in nodeIDs {
                let node = try db.node(id, of: cluster)
                guard node.liveness != liveness else { continue }
                try db.execute(
                    sql: "UPDATE node SET liveness = ? WHERE cluster_id = ? AND node_id = ?",
                    arguments: [liveness.rawValue, cluster.id, id]
                )
                _ = try db.recordChange(
                    of: cluster, actor: actor, action: action, subject: "node \(id)",
                    before: node.liveness.rawValue, after: liveness.rawValue
                )
            }
        }
    }
}

extension ClusterRow {
    func requireZone(_ zone: String) throws(ControlPlaneError) {
        guard info.zones.contains(where: { $0.name == zone }) else {
            let known = info.zones.map(\.name).joined(separator: ", ")
            throw ControlPlaneError(
                .zoneNotFound,
                "zone \"\(zone)\" is not a zone of cluster \"\(info.name)\" (zones: \(known))"
            )
        }
    }
}

extension Database {
    func nextNodeID(_ clusterID: Int64) throws -> Int {
        (try Int.fetchOne(self, sql: "SELECT MAX(node_id) FROM node WHERE cluster_id = ?", arguments: [clusterID]) ?? 0) + 1
    }

    fileprivate func resolveNodeID(_ registration: TopologyStore.Registration, cluster: ClusterRow) throws -> Int {
        if let id = registration.nodeID { return id }
        guard let name = registration.name else {
            throw ControlPlaneError(.invalidArgument, "an agent must give --node-id or --node-name")
        }
        if let id = try Int.fetchOne(
            self, sql: "SELECT node_id FROM node WHERE cluster_id = ? AND name = ?", arguments: [cluster.id, name]
        ) {
            return id
        }
        return try nextNodeID(cluster.id)
    }
}
