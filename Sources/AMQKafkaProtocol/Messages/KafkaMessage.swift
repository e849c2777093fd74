import NIOCore

/// A versioned Kafka structure: the generated nested structs and the ConsumerProtocol data types,
/// which have no api key (their leading int16 version is written by the caller).
package protocol KafkaStruct: Sendable, Equatable {
    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaProtocolError)
    func encode(into buffer: inout ByteBuffer, version: Int16)
}

/// A generated request or response body.
package protocol KafkaMessage: KafkaStruct {
    static var apiKey: ApiKey { get }
    /// The versions this type decodes and encodes; others are rejected before decoding.
    static var acceptedVersions: ClosedRange<Int16> { get }
    static func isFlexible(_ version: Int16) -> Bool
    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaProtocolError)
    func encode(into buffer: inout ByteBuffer, version: Int16)
}

package protocol KafkaRequest: KafkaMessage {
    associatedtype Response: KafkaMessage
}
