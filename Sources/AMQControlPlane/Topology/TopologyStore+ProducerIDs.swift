import GRDB

extension TopologyStore {
    /// The first producer id a cluster hands out.
    package static let firstProducerID: Int64 = 1000

    /// Hands out the next producer id of the cluster (Kafka's InitProducerId without a
    /// transactional id). Ids are never reused, also across controller restarts: the counter is
    /// a column of the cluster row, read and advanced in one transaction. Not a topology change.
    package func allocateProducerID(_ cluster: String) async throws -> Int64 {
        try await database.write { db in
            let clusterRow = try db.clusterRow(named: cluster)
            guard let id = try Int64.fetchOne(db, sql: "SELECT next_producer_id FROM cluster WHERE id = ?", arguments: [clusterRow.id]) else {
                throw ControlPlaneError(.clusterNotFound, "cluster \"\(cluster)\" not found; list clusters with 'amq cluster list'")
            }
            try db.execute(sql: "UPDATE cluster SET next_producer_id = ? WHERE id = ?", arguments: [id + 1, clusterRow.id])
            return id
        }
    }
}
