import NIOCore

/// Error-code fields of the generated messages: an int16 on the wire, ``KafkaErrorCode`` in Swift.
extension ByteBuffer {
    package mutating func readKafkaErrorCode(_ what: StaticString) throws(KafkaProtocolError) -> KafkaErrorCode {
        KafkaErrorCode(rawValue: try readKafkaInteger(what))
    }

    package mutating func writeKafkaErrorCode(_ code: KafkaErrorCode) {
        writeInteger(code.rawValue)
    }
}
