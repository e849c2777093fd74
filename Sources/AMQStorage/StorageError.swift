/// The storage engine's one error type. Its codes map one to one onto what a Kafka client must
/// be told (the protocol layer turns them into error codes).
package struct StorageError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// This agent does not lead the partition (any more); `leader` says who does, if known.
        case notLeader
        /// The batch failed validation (length, magic, CRC).
        case corrupt
        /// The offset is before the log start or past the end.
        case offsetOutOfRange
        /// Un-uploaded data stayed at its bound for longer than the append timeout.
        case backpressureTimeout
        /// The engine is shutting down.
        case shuttingDown
        /// The partition is not known to the index.
        case unknownPartition
        /// The object store or the controller failed in a way retries did not fix.
        case unavailable
        /// An idempotent producer skipped a sequence number.
        case outOfOrderSequence
        /// An idempotent producer used an epoch older than its current one.
        case invalidProducerEpoch
    }

    package var code: Code
    package var message: String
    package var leader: Int?
    package var underlying: (any Error)?

    package init(_ code: Code, _ message: String, leader: Int? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.leader = leader
        self.underlying = underlying
    }

    package var description: String { message }
}
