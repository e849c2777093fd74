/// An error that knows the Kafka error code a client must be told about it. Domain modules'
/// errors conform where the Kafka layer meets them (the agent's `Kafka/KafkaErrorMapping.swift`),
/// so every handler turns a failure into a code the same way.
package protocol KafkaErrorConvertible: Error {
    var kafkaErrorCode: KafkaErrorCode { get }
}

extension KafkaErrorCode {
    /// The code for any error: its own if it is ``KafkaErrorConvertible``, else
    /// UNKNOWN_SERVER_ERROR.
    package init(_ error: any Error) {
        self = (error as? any KafkaErrorConvertible)?.kafkaErrorCode ?? .unknownServerError
    }
}
