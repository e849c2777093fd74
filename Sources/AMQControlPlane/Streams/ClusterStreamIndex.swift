import AMQStreamIndex
import Foundation

/// One cluster's stream index in the SQLite store, as storage sees it: the partition index the
/// CLI's tools and tests write through directly, and the catalogue the controller's stream
/// maintenance works on.
package struct ClusterStreamIndex: PartitionIndex, StreamCatalog {
    package let store: TopologyStore
    package let cluster: String

    package init(store: TopologyStore, cluster: String) {
        self.store = store
        self.cluster = cluster
    }

    package func commit(_ request: CommitRequest) async throws -> CommitResponse {
        try await store.commit(cluster, request)
    }

    package func partitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState {
        try await ControlPlaneError.asStreamIndexError { try await store.partitionLog(cluster, partition, from: from, limit: limit) }
    }

    package func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        try await ControlPlaneError.asStreamIndexError { try await store.deleteRecords(cluster, partition, before: offset) }
    }

    package func applyRetention(now: Date) async throws -> Int {
        try await store.applyRetention(cluster, now: now)
    }

    package func compactionCandidates(minSegments: Int, smallerThan: Int, maxBytes: Int) async throws -> [(PartitionKey, [Segment])] {
        try await store.compactionCandidates(cluster, minSegments: minSegments, smallerThan: smallerThan, maxBytes: maxBytes)
    }

    package func replaceSegments(_ partition: PartitionKey, replaced: [Int64], with segment: Segment, objectSize: Int, nodeID: Int) async throws -> Bool {
        try await store.replaceSegments(cluster, partition, replaced: replaced, with: segment, objectSize: objectSize, nodeID: nodeID)
    }

    package func objectsDueForDeletion(now: Date, grace: TimeInterval) async throws -> [String] {
        try await store.objectsDueForDeletion(cluster, now: now, grace: grace)
    }

    package func forgetObjects(_ keys: [String]) async throws {
        try await store.forgetObjects(cluster, keys)
    }

    package func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String] {
        try await store.reserveUploads(cluster, kind, nodeID: nodeID, count: count)
    }

    package func expireUploads(now: Date, grace: TimeInterval) async throws -> [String] {
        try await store.expireUploads(cluster, now: now, grace: grace)
    }
}

/// The agent's partition index: the controller, over the control API.
extension ControlClient: PartitionIndex {
    package func partitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState {
        try await ControlPlaneError.asStreamIndexError { try await fetchPartitionLog(partition, from: from, limit: limit) }
    }

    package func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        try await ControlPlaneError.asStreamIndexError { try await requestDeleteRecords(partition, before: offset) }
    }

    package func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String] {
        try await requestUploads(kind, nodeID: nodeID, count: count)
    }
}

extension ControlPlaneError {
    /// Runs `body`, telling storage of a partition the control plane does not know in the index's
    /// own terms (storage never sees control-plane errors).
    static func asStreamIndexError<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ControlPlaneError where error.code == .topicNotFound {
            throw StreamIndexError(.unknownPartition, error.message, underlying: error)
        }
    }
}
