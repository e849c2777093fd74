import AMQStreamIndex
import Foundation
import GRDB

/// Upload intents (issue 11, finding 3): every object is named here, by this database's clock,
/// before its first byte is written. Commits and garbage collection both go by the intent's age
/// on that one clock: an agent's clock, fast or slow, and the store's `lastModified` decide
/// nothing, and an object without an intent (another cluster's, or newer than a restored
/// database) is never deleted.
extension TopologyStore {
    /// Most keys one call may reserve.
    static let maxReservation = 256

    package func reserveUploads(_ cluster: String, _ kind: UploadKind, nodeID: Int, count: Int, now: Date = Date()) async throws -> [String] {
        guard (1...Self.maxReservation).contains(count) else {
            throw ControlPlaneError(.invalidArgument, "reserve between 1 and \(Self.maxReservation) upload keys, not \(count)")
        }
        return try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let keys = (0..<count).map { _ in ObjectKeys.make(kind, cluster: clusterRow.info.uid, nodeID: nodeID, now: now) }
            try db.recordUploadIntents(keys, cluster: clusterRow.id, nodeID: nodeID, now: now)
            return keys
        }
    }

    /// Records intents for keys named elsewhere (tools, tests); ``reserveUploads(_:_:nodeID:count:now:)`` names them itself.
    package func recordUploadIntents(_ cluster: String, _ keys: [String], nodeID: Int, now: Date = Date()) async throws {
        try await database.write { db in
            try db.recordUploadIntents(keys, cluster: try db.clusterRow(named: cluster).id, nodeID: nodeID, now: now)
        }
    }

    /// Drops intents older than `grace`; returns the keys among them no segment ever named
    /// (uploaded and never committed, or never uploaded): from now on no commit can name them,
    /// so they are safe to delete.
    package func expireUploads(_ cluster: String, now: Date = Date(), grace: TimeInterval) async throws -> [String] {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            let cutoff = now.timeIntervalSince1970 - grace
            let uncommitted = try String.fetchAll(
                db,
                sql: """
                    SELECT i.object_key FROM upload_intent i
                    WHERE i.cluster_id = ? AND i.created_at < ?
                        AND NOT EXISTS (SELECT 1 FROM stream_object o WHERE o.cluster_id = i.cluster_id AND o.object_key = i.object_key)
                    """,
                arguments: [clusterRow.id, cutoff]
            )
            try db.execute(sql: "DELETE FROM upload_intent WHERE cluster_id = ? AND created_at < ?", arguments: [clusterRow.id, cutoff])
            return uncommitted
        }
    }
}

extension Database {
    fileprivate func recordUploadIntents(_ keys: [String], cluster clusterID: Int64, nodeID: Int, now: Date) throws {
        for key in keys {
            try execute(
                sql: "INSERT OR IGNORE INTO upload_intent (cluster_id, object_key, node_id, created_at) VALUES (?, ?, ?, ?)",
                arguments: [clusterID, key, nodeID, now.timeIntervalSince1970]
            )
        }
    }

    /// The objects of `request` whose intent is missing or older than the commit delay: a commit
    /// naming any of them is too late (garbage collection may have taken them).
    func lateObjects(of request: CommitRequest, cluster clusterID: Int64, now: Date) throws -> [String] {
        let keys = Set(request.ranges.map(\.segment.objectKey))
        return try keys.sorted().filter { key in
            let created = try Double.fetchOne(
                self, sql: "SELECT created_at FROM upload_intent WHERE cluster_id = ? AND object_key = ?", arguments: [clusterID, key]
            )
            guard let created else { return true }
            return now.timeIntervalSince1970 - created > CommitRequest.maxCommitDelay
        }
    }
}
