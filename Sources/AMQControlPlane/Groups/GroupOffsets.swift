import Foundation

/// One committed consumer-group offset of one partition, as OffsetCommit stores it and
/// OffsetFetch returns it. Kafka clients read back the metadata string and the leader epoch they
/// committed (librdkafka's tests check both), so both are kept verbatim.
package struct GroupOffset: Codable, Sendable, Hashable {
    package var topic: String
    package var partition: Int
    package var offset: Int64
    /// The leader epoch the consumer saw with the offset (KIP-320); -1 when it did not say.
    package var leaderEpoch: Int32
    package var metadata: String?
    /// Set by the store on commit; ignored in a commit request.
    package var committedAt: Date?

    package init(topic: String, partition: Int, offset: Int64, leaderEpoch: Int32 = -1, metadata: String? = nil, committedAt: Date? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.committedAt = committedAt
    }

    /// Kafka's `offset.metadata.max.bytes` default: longer metadata is refused per partition.
    package static let maxMetadataBytes = 4096
}

/// What became of one entry of an offset commit. Entries are judged one by one: an unknown
/// partition does not stop the others from being committed.
package struct GroupOffsetResult: Codable, Sendable, Hashable {
    package enum Outcome: String, Codable, Sendable {
        case ok
        /// The topic does not exist, or has fewer partitions (UNKNOWN_TOPIC_OR_PARTITION).
        case unknownTopicOrPartition
        /// The metadata is longer than ``GroupOffset/maxMetadataBytes`` (OFFSET_METADATA_TOO_LARGE).
        case offsetMetadataTooLarge
    }

    package var topic: String
    package var partition: Int
    package var outcome: Outcome

    package init(topic: String, partition: Int, outcome: Outcome) {
        self.topic = topic
        self.partition = partition
        self.outcome = outcome
    }
}
