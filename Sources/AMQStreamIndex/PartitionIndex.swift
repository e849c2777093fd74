import Foundation

/// Where committed ranges are recorded: the controller over HTTP in an agent, the SQLite store
/// directly in tools and tests. Every implementation decides commits with ``CommitRules``.
package protocol PartitionIndex: Sendable {
    /// Decides each range of `request`; a request whose `commitID` was answered before gets
    /// that answer again (its first try landed and only the answer was lost).
    func commit(_ request: CommitRequest) async throws -> CommitResponse
    /// The partition's bounds and leadership, and up to `limit` segments holding offsets at or
    /// after `from`. Throws ``StreamIndexError/Code/unknownPartition`` for a partition it does not know.
    func partitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState
    /// Moves the log start up to `offset`; returns the log start after it.
    func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64
    /// `count` new keys for objects `nodeID` is about to upload, each recorded as an upload
    /// intent by the index's own clock before any byte is written. A commit naming an object is
    /// accepted only while its intent is younger than ``CommitRequest/maxCommitDelay``; garbage
    /// collection deletes an uncommitted object only once its intent is older than its grace
    /// period. No other clock decides either (issue 11, finding 3).
    func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String]
}

/// What the background work on a cluster's streams (retention, compaction, garbage collection)
/// needs from the index. The controller's SQLite store provides it.
package protocol StreamCatalog: Sendable {
    /// Drops segments past their topic's `retention.ms` / `retention.bytes`; returns how many.
    func applyRetention(now: Date) async throws -> Int
    /// Runs of at least `minSegments` consecutive segments of one partition, each smaller than
    /// `smallerThan` bytes and together at most `maxBytes`.
    func compactionCandidates(minSegments: Int, smallerThan: Int, maxBytes: Int) async throws -> [(PartitionKey, [Segment])]
    /// Swaps `replaced` (consecutive segments, by base offset) for `segment` if they are all still
    /// there; false, changing nothing, when retention or another compaction got there first.
    func replaceSegments(_ partition: PartitionKey, replaced: [Int64], with segment: Segment, objectSize: Int, nodeID: Int) async throws -> Bool
    /// Keys for objects the maintenance is about to upload (compacted ranges), as
    /// ``PartitionIndex/reserveUploads(_:nodeID:count:)``.
    func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String]
    /// Forgets upload intents older than `grace` and returns the keys of those whose object was
    /// never committed: garbage now, and no commit can name them any more.
    func expireUploads(now: Date, grace: TimeInterval) async throws -> [String]
    /// Objects no segment refers to any more, unreferenced for longer than `grace`.
    func objectsDueForDeletion(now: Date, grace: TimeInterval) async throws -> [String]
    /// Forgets objects once they are deleted from the store.
    func forgetObjects(_ keys: [String]) async throws
}

/// The stream index's one error type, as storage sees it whatever the index is.
package struct StreamIndexError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// The index has no such topic or partition.
        case unknownPartition
        /// The index refused the request itself (malformed, or larger than it takes): trying
        /// again cannot help.
        case refused
    }

    package var code: Code
    package var message: String
    package var underlying: (any Error)?

    package init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    package var description: String { message }
}
