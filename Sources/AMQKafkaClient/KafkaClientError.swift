import AMQKafkaProtocol

/// Why a Kafka client call failed. The message says what happened and what to do about it, so the
/// CLI prints it as is.
package struct KafkaClientError: Error, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// A bad flag or address: the user must change the command line.
        case invalidArgument
        /// No broker could be reached at all.
        case brokerUnreachable
        /// A call got no answer in time.
        case timeout
        /// The topic does not exist (or has no such partition).
        case unknownTopic
        /// The broker answered with a Kafka error code (see `kafkaError`).
        case brokerError
        /// The broker's bytes made no sense, or it speaks no version we do.
        case protocolError
        /// The connection went away mid-call.
        case connectionClosed
    }

    package var code: Code
    package var message: String
    /// The Kafka error code when the broker sent one.
    package var kafkaError: KafkaErrorCode?
    package var underlying: (any Error)?
    package var location: String

    package init(
        _ code: Code, _ message: String, kafkaError: KafkaErrorCode? = nil, underlying: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.kafkaError = kafkaError
        self.underlying = underlying
        self.location = "\(file):\(line)"
    }

    package var description: String { message }

    /// A broker error for `what`, with the fix for the codes an operator can act on.
    package static func broker(_ errorCode: KafkaErrorCode, _ what: String, file: String = #fileID, line: Int = #line) -> KafkaClientError {
        let hint: String =
            switch errorCode {
            case .unknownTopicOrPartition: "; check the name with 'amq topic list' or create it with 'amq topic create NAME --partitions N'"
            case .coordinatorNotAvailable, .coordinatorLoadInProgress, .leaderNotAvailable, .notLeaderOrFollower:
                "; the cluster may still be starting or moving partitions: retry, and check 'amq cluster status'"
            case .nonEmptyGroup, .unknownMemberID:
                "; the group has active members: stop its consumers first"
            case .invalidRequiredAcks: "; use --acks all, 1 or 0"
            case .messageTooLarge, .recordListTooLarge: "; send fewer or smaller records per request (amq produce --batch-size)"
            default: ""
            }
        let code: Code = errorCode == .unknownTopicOrPartition ? .unknownTopic : .brokerError
        return KafkaClientError(code, "\(what): \(errorCode.name)\(hint)", kafkaError: errorCode, file: file, line: line)
    }
}
