/// The one error type of the control plane: what went wrong, what to do about it, and where.
///
/// `message` is written for an operator: it names the object and the fix
/// (`topic "orders" not found; list topics with 'amq topic list'`). It never holds secrets.
package struct ControlPlaneError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    package enum Code: String, Sendable, Codable {
        case clusterNotFound
        case clusterExists
        case clusterAmbiguous
        case zoneNotFound
        case nodeNotFound
        case nodeExists
        case topicNotFound
        case topicExists
        case invalidArgument
        /// A topic name Kafka would refuse (Kafka's INVALID_TOPIC_EXCEPTION).
        case invalidTopicName
        /// A partition count out of range, or one that would shrink a topic (INVALID_PARTITIONS).
        case invalidPartitions
        /// A topic config with an unknown shape or a bad value (INVALID_CONFIG).
        case invalidConfig
        case conflict
        case noEligibleNodes
        case notAnAMQDatabase
        case databaseLocked
        case databaseFailure
        case controllerUnreachable
        case unauthorized
        case protocolFailure
    }

    package var code: Code
    package var message: String
    package var underlying: (any Error)?
    package var location: String

    package init(
        _ code: Code,
        _ message: String,
        underlying: (any Error)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.location = "\(file):\(line)"
    }

    package var description: String { message }

    package var debugDescription: String {
        var text = "ControlPlaneError.\(code.rawValue): \(message) [at \(location)]"
        if let underlying { text += "\n  caused by: \(String(reflecting: underlying))" }
        return text
    }

    /// True for mistakes in what the user asked for, as opposed to failures while doing it.
    package var isUsageError: Bool {
        switch code {
        case .invalidArgument, .invalidTopicName, .invalidPartitions, .invalidConfig: true
        default: false
        }
    }
}
