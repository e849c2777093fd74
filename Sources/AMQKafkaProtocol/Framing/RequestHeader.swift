import NIOCore

/// The request header (docs/kafka-compatibility.md). v1 is api key, version, correlation id and client
/// id; v2 (flexible requests) adds a tag section. The client id stays an int16-length nullable
/// string even in v2, so any broker can read an ApiVersions header it cannot otherwise parse.
package struct RequestHeader: Sendable, Equatable {
    package var apiKey: Int16
    package var apiVersion: Int16
    package var correlationID: Int32
    package var clientID: String?
    /// Only carried in header v2.
    package var unknownTaggedFields: [TaggedField]

    package init(
        apiKey: Int16, apiVersion: Int16, correlationID: Int32, clientID: String?,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationID = correlationID
        self.clientID = clientID
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// v2 when the api is known and the version flexible (including versions above the accepted
    /// range, e.g. ApiVersions v5); v1 otherwise, so unknown requests can still be answered.
    package static func headerVersion(apiKey: Int16, apiVersion: Int16) -> Int16 {
        ApiKey(rawValue: apiKey)?.requestHeaderVersion(apiVersion) ?? 1
    }

    package var headerVersion: Int16 { Self.headerVersion(apiKey: apiKey, apiVersion: apiVersion) }

    package static func decode(from buffer: inout ByteBuffer) throws(KafkaProtocolError) -> RequestHeader {
        let apiKey: Int16 = try buffer.readKafkaInteger("RequestHeader.RequestApiKey")
        let apiVersion: Int16 = try buffer.readKafkaInteger("RequestHeader.RequestApiVersion")
        let correlationID: Int32 = try buffer.readKafkaInteger("RequestHeader.CorrelationId")
        let clientID = try buffer.readKafkaNullableString(compact: false, nullable: true, "RequestHeader.ClientId")
        var header = RequestHeader(apiKey: apiKey, apiVersion: apiVersion, correlationID: correlationID, clientID: clientID)
        if header.headerVersion >= 2 {
            header.unknownTaggedFields = try buffer.readKafkaTaggedFields("RequestHeader tagged fields")
        }
        return header
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(apiKey)
        buffer.writeInteger(apiVersion)
        buffer.writeInteger(correlationID)
        buffer.writeKafkaNullableString(clientID, compact: false, nullable: true)
        if headerVersion >= 2 { buffer.writeKafkaTaggedFields(unknownTaggedFields) }
    }
}

/// The response header: v0 is the correlation id, v1 adds a tag section. Which version applies is
/// `ApiKey.responseHeaderVersion(_:)` (ApiVersions is always v0).
package struct ResponseHeader: Sendable, Equatable {
    package var correlationID: Int32
    package var unknownTaggedFields: [TaggedField]

    package init(correlationID: Int32, unknownTaggedFields: [TaggedField] = []) {
        self.correlationID = correlationID
        self.unknownTaggedFields = unknownTaggedFields
    }

    package static func decode(from buffer: inout ByteBuffer, headerVersion: Int16) throws(KafkaProtocolError) -> ResponseHeader {
        var header = ResponseHeader(correlationID: try buffer.readKafkaInteger("ResponseHeader.CorrelationId"))
        if headerVersion >= 1 {
            header.unknownTaggedFields = try buffer.readKafkaTaggedFields("ResponseHeader tagged fields")
        }
        return header
    }

    package func encode(into buffer: inout ByteBuffer, headerVersion: Int16) {
        buffer.writeInteger(correlationID)
        if headerVersion >= 1 { buffer.writeKafkaTaggedFields(unknownTaggedFields) }
    }
}
