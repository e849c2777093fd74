import AMQObjectStore
import AMQStreamIndex
import Logging
import NIOCore

/// Keys reserved from the index ahead of uploads (``PartitionIndex/reserveUploads(_:nodeID:count:)``):
/// each object's intent is recorded before its first byte is written, without a round trip per
/// upload. A key is used only while young by this process's monotonic clock, counted from before
/// its reservation was asked, so it is younger still by the index's clock, which is the one that
/// judges the commit (issue 11, finding 3).
package actor UploadKeys {
    let index: any PartitionIndex
    let kind: UploadKind
    let nodeID: Int
    /// Keys asked for at once.
    let batch: Int
    /// Well under ``CommitRequest/maxCommitDelay``: what is left is the upload's and commit's time.
    let maxAge: Duration
    private var pool: [(key: String, asked: ContinuousClock.Instant)] = []

    package init(index: any PartitionIndex, kind: UploadKind, nodeID: Int, batch: Int = 16, maxAge: Duration = .seconds(60)) {
        self.index = index
        self.kind = kind
        self.nodeID = nodeID
        self.batch = batch
        self.maxAge = maxAge
    }

    /// A key no object has yet, its intent recorded.
    package func next() async throws -> String {
        let now = ContinuousClock.now
        pool.removeAll { now - $0.asked > maxAge }
        if pool.isEmpty {
            let asked = ContinuousClock.now
            pool += try await index.reserveUploads(kind, nodeID: nodeID, count: batch).map { ($0, asked) }
        }
        return pool.removeFirst().key
    }

    /// Reserves a key and uploads `object` under it, retrying both with `configuration`'s backoff
    /// until they succeed or the task is cancelled; `placements` are where its ranges sit.
    package func upload(
        _ object: ByteBuffer, placements: [WritePathStateMachine.UploadedObject.Placement], to store: any ObjectStore,
        configuration: StorageConfiguration, logger: Logger, onRetry: @Sendable () async -> Void = {}
    ) async throws -> WritePathStateMachine.UploadedObject {
        let key = try await retrying("reserve an upload key", base: configuration.retryBase, cap: configuration.commitRetryCap, logger: logger, onRetry: onRetry) {
            try await self.next()
        }
        try await retrying("upload \(key)", base: configuration.retryBase, cap: configuration.retryCap, logger: logger, onRetry: onRetry) {
            do {
                try await store.put(key, body: object, ifAbsent: true)
            } catch let error as ObjectStoreError where error.code == .alreadyExists {
                // The key is this object's alone: an earlier try landed and only its answer was lost.
            }
        }
        return WritePathStateMachine.UploadedObject(key: key, size: object.readableBytes, placements: placements)
    }
}
