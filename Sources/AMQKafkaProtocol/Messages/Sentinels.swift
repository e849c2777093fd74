// Field values with a special meaning in Kafka's protocol, named once so the agent's handlers,
// the client and the tests never spell them as bare numbers. docs/kafka-compatibility.md says
// which of them amq honours.

/// `acks` of a Produce request.
package enum ProduceAcks: Int16, Sendable {
    /// No response at all.
    case none = 0
    /// Answered once the leader has the batch.
    case leader = 1
    /// Answered once every in-sync replica has it (`all`).
    case all = -1

    /// `all`/`-1`, `1` or `0`, as Kafka tools spell it.
    package init?(argument: String) {
        switch argument.lowercased() {
        case "all", "-1": self = .all
        case "1": self = .leader
        case "0": self = .none
        default: return nil
        }
    }
}

/// The special `Timestamp`s of a ListOffsets partition (Kafka's `ListOffsetsRequest`).
package enum ListOffsetsTimestamp {
    /// The high watermark (`LATEST_TIMESTAMP`).
    package static let latest: Int64 = -1
    /// The log start offset (`EARLIEST_TIMESTAMP`).
    package static let earliest: Int64 = -2
    /// The record with the largest timestamp (`MAX_TIMESTAMP`, v7+).
    package static let maxTimestamp: Int64 = -3
}

/// `IsolationLevel` of Fetch and ListOffsets.
package enum IsolationLevel {
    package static let readUncommitted: Int8 = 0
    package static let readCommitted: Int8 = 1
}

/// `KeyType` of FindCoordinator.
package enum CoordinatorKeyType {
    package static let group: Int8 = 0
    package static let transaction: Int8 = 1
}

/// The -1s (and a 0) that stand for "none", "unknown" or "the default" in request and response
/// fields.
package enum KafkaSentinel {
    /// No node: an unknown leader or coordinator (`LeaderId`, `NodeId`), or no port.
    package static let noNode: Int32 = -1
    /// A consumer's `ReplicaId` (only followers send their broker id).
    package static let consumerReplicaID: Int32 = -1
    /// A leader epoch that is not known, or not to be checked (`CurrentLeaderEpoch`, KIP-320).
    package static let unknownLeaderEpoch: Int32 = -1
    /// An offset that is not known: a failed or acks=0 produce's base offset, a partition without
    /// a committed offset, an unknown high watermark or end offset.
    package static let unknownOffset: Int64 = -1
    /// A timestamp that is not known (`Timestamp`, `CommitTimestamp`).
    package static let noTimestamp: Int64 = -1
    /// No producer id: not idempotent, or none could be given (`ProducerId`).
    package static let noProducerID: Int64 = -1
    /// No producer epoch (`ProducerEpoch`).
    package static let noProducerEpoch: Int16 = -1
    /// A group generation that is not known: a member before it joins, or an admin commit
    /// (`GenerationId`).
    package static let noGeneration: Int32 = -1
    /// `NumPartitions` of CreateTopics: the broker's default.
    package static let defaultPartitionCount: Int32 = -1
    /// `ReplicationFactor` of CreateTopics: the broker's default.
    package static let defaultReplicationFactor: Int16 = -1
    /// `RetentionTimeMs` of OffsetCommit: the broker's default.
    package static let defaultRetentionTime: Int64 = -1
    /// `Offset` of DeleteRecords: up to the high watermark (`DeleteRecordsRequest.HIGH_WATERMARK`).
    package static let deleteToHighWatermark: Int64 = -1
    /// `SessionId` of Fetch: no fetch session (KIP-227).
    package static let noFetchSession: Int32 = 0
    /// `SessionEpoch` of Fetch: a full fetch that opens no session (KIP-227's `FINAL_EPOCH`).
    package static let finalFetchSessionEpoch: Int32 = -1
    /// `MemberEpoch` of OffsetFetch v9+ for a classic-group or admin caller.
    package static let noMemberEpoch: Int32 = -1
}
