import AMQControlPlane
import AMQKafkaProtocol
import AMQStorage

// The Kafka error code of each domain error a handler can meet. The conformances live here, in
// the Kafka layer, so the storage engine, the control plane and the group state machine stay
// free of protocol details.

extension StorageError: KafkaErrorConvertible {
    package var kafkaErrorCode: KafkaErrorCode {
        switch code {
        case .notLeader, .shuttingDown: .notLeaderOrFollower
        case .corrupt: .corruptMessage
        case .offsetOutOfRange: .offsetOutOfRange
        case .backpressureTimeout: .requestTimedOut
        case .unknownPartition: .unknownTopicOrPartition
        case .unavailable: .kafkaStorageError
        case .outOfOrderSequence: .outOfOrderSequenceNumber
        case .invalidProducerEpoch: .invalidProducerEpoch
        }
    }
}

/// On the data path only a missing topic has a Kafka name; the admin APIs say more about
/// topic-management failures (`AdminHandlers.code(for:topicExists:invalid:)`).
extension ControlPlaneError: KafkaErrorConvertible {
    package var kafkaErrorCode: KafkaErrorCode {
        switch code {
        case .topicNotFound: .unknownTopicOrPartition
        default: .unknownServerError
        }
    }
}

extension GroupError: KafkaErrorConvertible {
    package var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .unknownMemberID: .unknownMemberID
        case .illegalGeneration: .illegalGeneration
        case .rebalanceInProgress: .rebalanceInProgress
        case .memberIDRequired: .memberIDRequired
        case .inconsistentGroupProtocol: .inconsistentGroupProtocol
        case .fencedInstanceID: .fencedInstanceID
        case .invalidSessionTimeout: .invalidSessionTimeout
        case .coordinatorNotAvailable: .coordinatorNotAvailable
        case .notCoordinator: .notCoordinator
        case .groupMaxSizeReached: .groupMaxSizeReached
        case .invalidGroupID: .invalidGroupID
        case .nonEmptyGroup: .nonEmptyGroup
        case .groupIDNotFound: .groupIDNotFound
        }
    }
}

extension BrokerView.NotLed: KafkaErrorConvertible {
    var kafkaErrorCode: KafkaErrorCode { code }
}
