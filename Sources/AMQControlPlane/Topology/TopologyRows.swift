import Foundation
import GRDB

/// Row decoding and the SQL shared by every topology operation, in one place.
struct ClusterRow: Sendable {
    var id: Int64
    var info: ClusterInfo
}

enum TopologyJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension Database {
    func clusterRow(named name: String) throws -> ClusterRow {
        guard let row = try Row.fetchOne(self, sql: "SELECT * FROM cluster WHERE name = ?", arguments: [name]) else {
            throw ControlPlaneError(
                .clusterNotFound,
                "cluster \"\(name)\" not found; list clusters with 'amq cluster list'"
            )
        }
        let id: Int64 = row["id"]
        let zones = try Row.fetchAll(self, sql: "SELECT name, cidrs FROM zone WHERE cluster_id = ? ORDER BY name", arguments: [id])
            .map { ZoneInfo(name: $0["name"], cidrs: try TopologyJSON.decode([String].self, $0["cidrs"])) }
        let info = ClusterInfo(
            name: row["name"],
            uid: row["uid"],
            objectStoreURL: row["object_store_url"],
            dataDir: row["data_dir"],
            local: row["local"],
            settings: try TopologyJSON.decode(ClusterSettings.self, row["settings"]),
            topologyVersion: row["topology_version"],
            controllerURL: row["controller_url"],
            controllerPID: row["controller_pid"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            zones: zones
        )
        return ClusterRow(id: id, info: info)
    }

    func nodes(of clusterID: Int64) throws -> [NodeInfo] {
        try Row.fetchAll(self, sql: "SELECT * FROM node WHERE cluster_id = ? ORDER BY node_id", arguments: [clusterID])
            .map(NodeInfo.init(row:))
    }

    func node(_ nodeID: Int, of cluster: ClusterRow) throws -> NodeInfo {
        let row = try Row.fetchOne(
            self,
            sql: "SELECT * FROM node WHERE cluster_id = ? AND node_id = ?",
            arguments: [cluster.id, nodeID]
        )
        guard let row else {
            throw ControlPlaneError(
                .nodeNotFound,
                "node \(nodeID) not found in cluster \"\(cluster.info.name)\"; list nodes with 'amq node list'"
            )
        }
        return NodeInfo(row: row)
    }

    func topics(of clusterID: Int64) throws -> [TopicInfo] {
        try Row.fetchAll(self, sql: "SELECT * FROM topic WHERE cluster_id = ? ORDER BY name", arguments: [clusterID])
            .map { try TopicInfo(row: $0) }
    }

    func topic(named name: String, of cluster: ClusterRow) throws -> TopicInfo {
        let row = try Row.fetchOne(
            self,
            sql: "SELECT * FROM topic WHERE cluster_id = ? AND name = ?",
            arguments: [cluster.id, name]
        )
        guard let row else {
            throw ControlPlaneError(
                .topicNotFound,
                "topic \"\(name)\" not found in cluster \"\(cluster.info.name)\"; list topics with 'amq topic list'"
            )
        }
        return try TopicInfo(row: row)
    }

    /// Partitions of the cluster (or of one topic), ordered by topic name and index.
    func partitions(of clusterID: Int64, topicID: String? = nil) throws -> [PartitionInfo] {
        var sql = """
            SELECT t.name AS topic, p.topic_id, p.partition_index, p.leader_node_id, p.leader_epoch
            FROM partition p JOIN topic t ON t.id = p.topic_id
            WHERE p.cluster_id = ?
            """
        var arguments: StatementArguments = [clusterID]
        if let topicID {
            sql += " AND p.topic_id = ?"
            arguments += [topicID]
        }
        sql += " ORDER BY t.name, p.partition_index"
        var replicaSQL = "SELECT topic_id, partition_index, zone, node_id FROM partition_replica WHERE cluster_id = ?"
        var replicaArguments: StatementArguments = [clusterID]
        if let topicID {
            replicaSQL += " AND topic_id = ?"
            replicaArguments += [topicID]
        }
        var replicas: [String: [Int: [String: Int]]] = [:]
        for row in try Row.fetchAll(self, sql: replicaSQL, arguments: replicaArguments) {
            replicas[row["topic_id"], default: [:]][row["partition_index"], default: [:]][row["zone"]] = row["node_id"]
        }
        return try Row.fetchAll(self, sql: sql, arguments: arguments).map { row in
            let topicID: String = row["topic_id"]
            let index: Int = row["partition_index"]
            return PartitionInfo(
                topic: row["topic"],
                index: index,
                leader: row["leader_node_id"],
                leaderEpoch: row["leader_epoch"],
                replicas: replicas[topicID]?[index] ?? [:]
            )
        }
    }

    /// Bumps the cluster's topology version and records the change; returns the new version.
    func recordChange(
        of cluster: ClusterRow,
        actor: String,
        action: String,
        subject: String,
        before: String?,
        after: String?
    ) throws -> Int {
        try execute(sql: "UPDATE cluster SET topology_version = topology_version + 1 WHERE id = ?", arguments: [cluster.id])
        let version = try Int.fetchOne(self, sql: "SELECT topology_version FROM cluster WHERE id = ?", arguments: [cluster.id]) ?? 0
        try execute(
            sql: """
                INSERT INTO audit_log (cluster_id, cluster_name, at, actor, action, subject, before, after, topology_version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                cluster.id, cluster.info.name, Date().timeIntervalSince1970, actor, action, subject, before, after, version,
            ]
        )
        return version
    }
}

extension NodeInfo {
    init(row: Row) {
        let heartbeat: Double? = row["last_heartbeat"]
        let registered: Double? = row["registered_at"]
        self.init(
            id: row["node_id"],
            name: row["name"],
            zone: row["zone"],
            host: row["host"],
            kafkaPort: row["kafka_port"],
            rpcPort: row["rpc_port"],
            adminPort: row["admin_port"],
            adminState: NodeAdminState(rawValue: row["admin_state"]) ?? .active,
            liveness: NodeLiveness(rawValue: row["liveness"]) ?? .unknown,
            pid: row["pid"],
            lastHeartbeat: heartbeat.map(Date.init(timeIntervalSince1970:)),
            ackedVersion: row["acked_version"],
            registeredAt: registered.map(Date.init(timeIntervalSince1970:))
        )
        let listeners: String? = row["listeners"]
        self.listeners = listeners.flatMap { try? TopologyJSON.decode([String: Int].self, $0) }
    }
}

extension TopicInfo {
    init(row: Row) throws {
        var config = TopicConfig()
        config.routeEnabled = row["route_enabled"]
        config.retentionMs = row["retention_ms"]
        config.retentionBytes = row["retention_bytes"]
        config.lingerMs = row["linger_ms"]
        config.extra = try TopologyJSON.decode([String: String].self, row["configs"])
        self.init(
            id: row["id"],
            name: row["name"],
            partitions: row["partitions"],
            config: config,
            createdAt: Date(timeIntervalSince1970: row["created_at"])
        )
    }
}
