import Foundation
import GRDB

/// Reads and changes the topology. Every change is one transaction that validates, writes,
/// bumps the cluster's topology version and appends to the audit log — or changes nothing.
package struct TopologyStore: Sendable {
    package let database: ControlPlaneDatabase
    /// Who makes the changes, for the audit log (`cli:user@host`, `controller`).
    package let actor: String

    package init(database: ControlPlaneDatabase, actor: String) {
        self.database = database
        self.actor = actor
    }

    /// The actor string of an `amq` CLI process.
    package static var cliActor: String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        return "cli:\(user)@\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)"
    }

    // MARK: Clusters

    package struct ClusterSpec: Sendable {
        package var name: String
        package var zones: [String]
        package var agentsPerZone: Int
        package var objectStoreURL: String
        package var dataDir: String
        package var local: Bool
        package var host: String
        package var settings: ClusterSettings
        /// Client CIDR blocks per zone; every key must be one of `zones`.
        package var zoneCIDRs: [String: [CIDRBlock]]

        package init(
            name: String, zones: [String], agentsPerZone: Int, objectStoreURL: String, dataDir: String,
            local: Bool, host: String = "127.0.0.1", settings: ClusterSettings = ClusterSettings(),
            zoneCIDRs: [String: [CIDRBlock]] = [:]
        ) {
            self.name = name
            self.zones = zones
            self.agentsPerZone = agentsPerZone
            self.objectStoreURL = objectStoreURL
            self.dataDir = dataDir
            self.local = local
            self.host = host
            self.settings = settings
            self.zoneCIDRs = zoneCIDRs
        }
    }

    /// Creates a cluster with its zones and `agentsPerZone` nodes per zone. Node ids count from 1,
    /// round-robin over the zones, so the first nodes already cover every zone.
    @discardableResult
    package func createCluster(_ spec: ClusterSpec) async throws -> ClusterInfo {
        try Validation.name(spec.name, what: "cluster name")
        guard !spec.zones.isEmpty else {
            throw ControlPlaneError(.invalidArgument, "a cluster needs at least one zone; pass --zones a,b,c")
        }
        for zone in spec.zones { try Validation.name(zone, what: "zone name") }
        guard Set(spec.zones).count == spec.zones.count else {
            throw ControlPlaneError(.invalidArgument, "zone names must be distinct: \(spec.zones.joined(separator: ","))")
        }
        guard (0...64).contains(spec.agentsPerZone) else {
            throw ControlPlaneError(.invalidArgument, "--agents-per-zone must be between 0 and 64")
        }
        try Self.validateZoneCIDRs(spec.zoneCIDRs, zones: spec.zones)
        let actor = self.actor
        return try await database.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM cluster WHERE name = ?", arguments: [spec.name]) != nil {
                throw ControlPlaneError(
                    .clusterExists,
                    "cluster \"\(spec.name)\" already exists; pick another name or delete it with 'amq cluster delete \(spec.name)'"
                )
            }
            try db.execute(
                sql: """
                    INSERT INTO cluster (name, uid, object_store_url, data_dir, local, settings, topology_version, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, ?)
                    """,
                arguments: [
                    spec.name, ClusterInfo.newUID(), spec.objectStoreURL, spec.dataDir, spec.local, TopologyJSON.encode(spec.settings),
                    Date().timeIntervalSince1970,
                ]
            )
            let clusterID = db.lastInsertedRowID
            for zone in spec.zones {
                let cidrs = (spec.zoneCIDRs[zone] ?? []).map(\.description)
                try db.execute(
                    sql: "INSERT INTO zone (cluster_id, name, cidrs) VALUES (?, ?, ?)",
                    arguments: [clusterID, zone, TopologyJSON.encode(cidrs)]
                )
            }
            var nodeID = 1
            for _ in 0..<spec.agentsPerZone {
                for zone in spec.zones {
                    try db.insertNode(clusterID: clusterID, nodeID: nodeID, name: nil, zone: zone, host: spec.host)
                    nodeID += 1
                }
            }
            let cluster = try db.clusterRow(named: spec.name)
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "cluster.create", subject: spec.name,
                before: nil, after: TopologyJSON.encode(cluster.info)
            )
            return try db.clusterRow(named: spec.name).info
        }
    }

    /// The CIDR blocks of a cluster about to be created: only its zones, no overlaps. The cluster
    /// does not exist yet, so an unknown zone is a mistake in the command line, not a lookup.
    package static func validateZoneCIDRs(_ cidrs: [String: [CIDRBlock]], zones: [String]) throws(ControlPlaneError) {
        for zone in cidrs.keys.sorted() where !zones.contains(zone) {
            throw ControlPlaneError(
                .invalidArgument,
                "--zone-cidrs names zone \"\(zone)\", which is not in --zones (\(zones.joined(separator: ", ")))"
            )
        }
        try ZoneCIDRRules.validate(cidrs, existing: [:], zones: zones)
    }

    package struct ClusterSummary: Codable, Sendable, Equatable {
        package var name: String
        package var zones: [String]
        package var nodes: Int
        package var topics: Int
        package var topologyVersion: Int
        package var local: Bool
        package var objectStoreURL: String
        package var controllerURL: String?
    }

    package func listClusters() async throws -> [ClusterSummary] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM cluster ORDER BY name").map { name in
                let cluster = try db.clusterRow(named: name)
                return ClusterSummary(
                    name: name,
                    zones: cluster.info.zones.map(\.name),
                    nodes: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node WHERE cluster_id = ?", arguments: [cluster.id]) ?? 0,
                    topics: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM topic WHERE cluster_id = ?", arguments: [cluster.id]) ?? 0,
                    topologyVersion: cluster.info.topologyVersion,
                    local: cluster.info.local,
                    objectStoreURL: cluster.info.objectStoreURL,
                    controllerURL: cluster.info.controllerURL
                )
            }
        }
    }

    /// The cluster a command means: the one named, or the only one there is.
    package func resolveCluster(_ name: String?) async throws -> String {
        if let name { return name }
        let names = try await database.read { db in try String.fetchAll(db, sql: "SELECT name FROM cluster ORDER BY name") }
        switch names.count {
        case 0:
            throw ControlPlaneError(
                .clusterNotFound,
                "no cluster in \(database.path); create one with 'amq cluster create NAME --local'"
            )
        case 1:
            return names[0]
        default:
            throw ControlPlaneError(
                .clusterAmbiguous,
                "\(database.path) holds several clusters (\(names.joined(separator: ", "))); choose one with --cluster NAME or AMQ_CLUSTER"
            )
        }
    }

    package func cluster(_ name: String) async throws -> ClusterInfo {
        try await database.read { db in try db.clusterRow(named: name).info }
    }

    package func topologyVersion(_ name: String) async throws -> Int {
        try await database.read { db in
            guard let version = try Int.fetchOne(db, sql: "SELECT topology_version FROM cluster WHERE name = ?", arguments: [name]) else {
                throw ControlPlaneError(.clusterNotFound, "cluster \"\(name)\" not found; list clusters with 'amq cluster list'")
            }
            return version
        }
    }

    package func snapshot(_ name: String) async throws -> TopologySnapshot {
        try await database.read { db in
            let cluster = try db.clusterRow(named: name)
            return TopologySnapshot(
                cluster: name,
                version: cluster.info.topologyVersion,
                settings: cluster.info.settings,
                objectStoreURL: cluster.info.objectStoreURL,
                zones: cluster.info.zones,
                nodes: try db.nodes(of: cluster.id),
                topics: try db.topics(of: cluster.id),
                partitions: try db.partitions(of: cluster.id),
                security: try db.security(of: cluster.id)
            )
        }
    }

    /// Deletes the cluster's topology. The audit log keeps its history.
    package func deleteCluster(_ name: String) async throws {
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: name)
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "cluster.delete", subject: name,
                before: TopologyJSON.encode(cluster.info), after: nil
            )
            try db.execute(sql: "DELETE FROM partition_replica WHERE cluster_id = ?", arguments: [cluster.id])
            try db.execute(sql: "DELETE FROM partition WHERE cluster_id = ?", arguments: [cluster.id])
            try db.execute(sql: "DELETE FROM cluster WHERE id = ?", arguments: [cluster.id])
        }
    }

    /// Changes cluster settings (`key=value`), validated, in one transaction.
    @discardableResult
    package func updateSettings(_ name: String, _ assignments: [(key: String, value: String)]) async throws -> ClusterSettings {
        var settings = try await cluster(name).settings
        for (key, value) in assignments { try settings.set(key, value) }
        let updated = settings
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: name)
            try db.execute(sql: "UPDATE cluster SET settings = ? WHERE id = ?", arguments: [TopologyJSON.encode(updated), cluster.id])
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "cluster.settings", subject: name,
                before: TopologyJSON.encode(cluster.info.settings), after: TopologyJSON.encode(updated)
            )
        }
        return updated
    }

    /// Records where the controller listens. Not a topology change: agents are told the
    /// controller's address on their command line, so the version is not bumped.
    package func setController(_ name: String, url: String?, pid: Int?) async throws {
        try await database.write { db in
            let cluster = try db.clusterRow(named: name)
            try db.execute(
                sql: "UPDATE cluster SET controller_url = ?, controller_pid = ? WHERE id = ?",
                arguments: [url, pid, cluster.id]
            )
        }
    }

    package func auditLog(_ name: String, limit: Int = 100) async throws -> [AuditEntry] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM audit_log WHERE cluster_name = ? ORDER BY id DESC LIMIT ?",
                arguments: [name, limit]
            ).map { row in
                AuditEntry(
                    id: row["id"], cluster: row["cluster_name"], at: Date(timeIntervalSince1970: row["at"]),
                    actor: row["actor"], action: row["action"], subject: row["subject"],
                    before: row["before"], after: row["after"], topologyVersion: row["topology_version"]
                )
            }
        }
    }
}

extension Database {
    func insertNode(clusterID: Int64, nodeID: Int, name: String?, zone: String, host: String) throws {
        try execute(
            sql: """
                INSERT INTO node (cluster_id, node_id, name, zone, host, admin_state, liveness)
                VALUES (?, ?, ?, ?, ?, 'active', 'unknown')
                """,
            arguments: [clusterID, nodeID, name, zone, host]
        )
    }
}

/// Name rules shared by clusters, zones and topics.
package enum Validation {
    package static func name(
        _ value: String, what: String, maxLength: Int = 64, code: ControlPlaneError.Code = .invalidArgument
    ) throws(ControlPlaneError) {
        let allowed = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
        guard !value.isEmpty, value.count <= maxLength, allowed, value != ".", value != ".." else {
            throw ControlPlaneError(
                code,
                "\(what) \"\(value)\" is invalid: use 1–\(maxLength) characters from letters, digits, '.', '_' and '-'"
            )
        }
    }
}
