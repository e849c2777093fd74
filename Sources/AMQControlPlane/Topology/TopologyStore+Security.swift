import AMQSecurity
import Foundation
import GRDB

/// Kafka users and ACLs (issue 12; docs/security.md). Like every topology change, each write is
/// one transaction that bumps the topology version, so agents learn of it within a poll, and is
/// audited — with user names and mechanisms, never credentials.
extension TopologyStore {
    /// A user as `amq user list` shows it.
    package struct UserSummary: Codable, Sendable, Equatable {
        package var name: String
        package var mechanisms: [String]
        package var iterations: Int
        package var createdAt: Date
    }

    /// Creates `credentials.name`, or replaces its credentials (a password change) when `replace`.
    package func putUser(_ clusterName: String, _ credentials: UserCredentials, replace: Bool = false) async throws {
        try Self.validateUserName(credentials.name)
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM kafka_user WHERE cluster_id = ? AND name = ?", arguments: [cluster.id, credentials.name]) ?? false
            if exists && !replace {
                throw ControlPlaneError(.conflict, "user \"\(credentials.name)\" exists; pass --replace to set a new password")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO kafka_user (cluster_id, name, credentials, created_at) VALUES (?, ?, ?, ?)",
                arguments: [cluster.id, credentials.name, TopologyJSON.encode(credentials.scram), Date().timeIntervalSince1970]
            )
            let summary = #"{"name":\#(TopologyJSON.encode(credentials.name)),"mechanisms":\#(TopologyJSON.encode(credentials.scram.keys.map(\.rawValue).sorted()))}"#
            _ = try db.recordChange(
                of: cluster, actor: actor, action: exists ? "user.update" : "user.create", subject: "user \(credentials.name)", before: nil, after: summary
            )
        }
    }

    package func deleteUser(_ clusterName: String, name: String) async throws {
        let actor = self.actor
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            try db.execute(sql: "DELETE FROM kafka_user WHERE cluster_id = ? AND name = ?", arguments: [cluster.id, name])
            guard db.changesCount > 0 else { throw ControlPlaneError(.invalidArgument, "no user \"\(name)\" in cluster \(clusterName); see amq user list") }
            _ = try db.recordChange(of: cluster, actor: actor, action: "user.delete", subject: "user \(name)", before: nil, after: nil)
        }
    }

    package func users(_ clusterName: String) async throws -> [UserSummary] {
        try await database.read { db in
            let cluster = try db.clusterRow(named: clusterName)
            return try Row.fetchAll(db, sql: "SELECT name, credentials, created_at FROM kafka_user WHERE cluster_id = ? ORDER BY name", arguments: [cluster.id])
                .map { row in
                    let scram = (try? TopologyJSON.decode([SCRAMMechanism: SCRAMCredential].self, row["credentials"])) ?? [:]
                    return UserSummary(
                        name: row["name"], mechanisms: scram.keys.map(\.rawValue).sorted(), iterations: scram.values.map(\.iterations).max() ?? 0,
                        createdAt: Date(timeIntervalSince1970: row["created_at"])
                    )
                }
        }
    }

    /// Adds ACLs; those already present are left as they are. Returns, per binding, nil or why it
    /// was refused (CreateAcls answers per creation); the valid ones are added in one transaction.
    @discardableResult
    package func addACLs(_ clusterName: String, _ bindings: [ACLBinding]) async throws -> [String?] {
        let actor = self.actor
        let problems = bindings.map(\.invalidity)
        let valid = zip(bindings, problems).filter { $0.1 == nil }.map(\.0)
        guard !valid.isEmpty else { return problems }
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            var added: [ACLBinding] = []
            for binding in valid {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO acl (cluster_id, resource_type, resource_name, pattern_type, principal, host, operation, permission)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        cluster.id, binding.resourceType.rawValue, binding.resourceName, binding.patternType.rawValue, binding.principal, binding.host,
                        binding.operation.rawValue, binding.permission.rawValue,
                    ]
                )
                if db.changesCount > 0 { added.append(binding) }
            }
            if !added.isEmpty {
                _ = try db.recordChange(of: cluster, actor: actor, action: "acl.add", subject: "\(added.count) ACL(s)", before: nil, after: TopologyJSON.encode(added))
            }
        }
        return problems
    }

    /// Removes the ACLs each filter matches; returns them, per filter (DeleteAcls answers so).
    package func removeACLs(_ clusterName: String, matching filters: [ACLFilter]) async throws -> [[ACLBinding]] {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let all = try db.acls(of: cluster.id)
            let matched = filters.map { filter in all.filter(filter.matches) }
            let removed = Set(matched.flatMap { $0 })
            for binding in removed {
                try db.execute(
                    sql: """
                        DELETE FROM acl WHERE cluster_id = ? AND resource_type = ? AND resource_name = ? AND pattern_type = ? AND principal = ?
                            AND host = ? AND operation = ? AND permission = ?
                        """,
                    arguments: [
                        cluster.id, binding.resourceType.rawValue, binding.resourceName, binding.patternType.rawValue, binding.principal, binding.host,
                        binding.operation.rawValue, binding.permission.rawValue,
                    ]
                )
            }
            if !removed.isEmpty {
                _ = try db.recordChange(
                    of: cluster, actor: actor, action: "acl.remove", subject: "\(removed.count) ACL(s)", before: TopologyJSON.encode(removed.sorted()), after: nil
                )
            }
            return matched
        }
    }

    package func acls(_ clusterName: String, matching filter: ACLFilter = ACLFilter()) async throws -> [ACLBinding] {
        try await database.read { db in
            try db.acls(of: try db.clusterRow(named: clusterName).id).filter(filter.matches)
        }
    }

    /// Kafka's user names are any string; ours must also be safe in a SCRAM message and a log line.
    static func validateUserName(_ name: String) throws(ControlPlaneError) {
        guard !name.isEmpty, name.count <= 256, !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw ControlPlaneError(.invalidArgument, "user name \"\(name)\" must be 1-256 characters without newlines")
        }
    }
}

extension Database {
    func acls(of clusterID: Int64) throws -> [ACLBinding] {
        try Row.fetchAll(
            self, sql: "SELECT * FROM acl WHERE cluster_id = ? ORDER BY resource_type, resource_name, principal, operation", arguments: [clusterID]
        ).compactMap { row in
            guard let type = ACLResourceType(rawValue: row["resource_type"]), let pattern = ACLPatternType(rawValue: row["pattern_type"]),
                let operation = ACLOperation(rawValue: row["operation"]), let permission = ACLPermission(rawValue: row["permission"])
            else { return nil }
            return ACLBinding(
                resourceType: type, resourceName: row["resource_name"], patternType: pattern, principal: row["principal"], host: row["host"],
                operation: operation, permission: permission
            )
        }
    }

    func security(of clusterID: Int64) throws -> SecuritySnapshot {
        let users = try Row.fetchAll(self, sql: "SELECT name, credentials FROM kafka_user WHERE cluster_id = ? ORDER BY name", arguments: [clusterID])
            .compactMap { row -> UserCredentials? in
                guard let scram = try? TopologyJSON.decode([SCRAMMechanism: SCRAMCredential].self, row["credentials"]) else { return nil }
                return UserCredentials(name: row["name"], scram: scram)
            }
        return SecuritySnapshot(users: users, acls: try acls(of: clusterID))
    }
}
