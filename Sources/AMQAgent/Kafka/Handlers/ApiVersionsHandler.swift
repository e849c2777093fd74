import AMQKafkaProtocol
import NIOCore

/// ApiVersions v0–4. Advertises exactly what is implemented (Produce from v0 although v0–2 are
/// never decoded: librdkafka 2.0.2 only compresses when the range includes 0; docs/decisions.md, Kafka protocol).
/// From v3 the client's software name and version must look like `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`
/// (INVALID_REQUEST otherwise). A version above ours is answered with a v0 body, header v0,
/// error 35 and our range for key 18, so the client retries lower (docs/kafka-compatibility.md).
enum ApiVersionsHandler {
    static func handle(_ request: ApiVersionsRequest, _ context: KafkaRequestContext) -> ApiVersionsResponse {
        var response = ApiVersionsResponse(
            errorCode: .none,
            apiKeys: ApiKey.allCases.map {
                .init(apiKey: $0.rawValue, minVersion: $0.advertisedVersions.lowerBound, maxVersion: $0.advertisedVersions.upperBound)
            }
        )
        if context.version >= 3, !isValidSoftwareField(request.clientSoftwareName) || !isValidSoftwareField(request.clientSoftwareVersion) {
            response.errorCode = .invalidRequest
        }
        return response
    }

    static func unsupportedVersionFrame(correlationID: Int32) -> ByteBuffer {
        let range = ApiKey.apiVersions.advertisedVersions
        let response = ApiVersionsResponse(
            errorCode: .unsupportedVersion,
            apiKeys: [.init(apiKey: ApiKey.apiVersions.rawValue, minVersion: range.lowerBound, maxVersion: range.upperBound)]
        )
        return KafkaFrameEncoder.frame { frame in
            ResponseHeader(correlationID: correlationID).encode(into: &frame, headerVersion: 0)
            response.encode(into: &frame, version: 0)
        }
    }

    static func isValidSoftwareField(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == 0x2D || $0 == 0x2E }
    }
}
