import AMQKafkaProtocol
import NIOCore
import Testing

@Suite struct GoldenBytesTests {
    /// kcat 1.7.1 (librdkafka 2.0.2)'s first frame, as captured.
    @Test func kcatApiVersionsV3Request() throws {
        var frame = ByteBuffer(hex: "0012 0003 00000001 0007") + ByteBuffer(string: "rdkafka")
            + ByteBuffer(hex: "00 0b") + ByteBuffer(string: "librdkafka") + ByteBuffer(hex: "06") + ByteBuffer(string: "2.0.2")
            + ByteBuffer(hex: "00")
        let original = frame
        let header = try RequestHeader.decode(from: &frame)
        #expect(header == RequestHeader(apiKey: 18, apiVersion: 3, correlationID: 1, clientID: "rdkafka"))
        #expect(header.headerVersion == 2)
        let body = try KafkaRequestBody.decode(apiKey: .apiVersions, version: 3, from: &frame)
        #expect(body == .apiVersions(ApiVersionsRequest(clientSoftwareName: "librdkafka", clientSoftwareVersion: "2.0.2")))
        #expect(frame.readableBytes == 0)

        var encoded = ByteBuffer()
        header.encode(into: &encoded)
        body.encode(into: &encoded, version: 3)
        #expect(encoded == original)
    }

    @Test func apiVersionsAboveTheRangeStillParsesItsHeader() throws {
        // v5 is unknown to us but flexible (3+), so the header has tags; the body is not parsed.
        var frame = ByteBuffer(hex: "0012 0005 00000009 0001 41 00 ff ff")
        let header = try RequestHeader.decode(from: &frame)
        #expect(header.apiVersion == 5 && header.clientID == "A" && header.correlationID == 9)
        #expect(frame.readableBytes == 2)
        #expect(throws: KafkaProtocolError.unsupportedVersion(apiKey: 18, version: 5)) {
            try KafkaRequestBody.decode(apiKey: .apiVersions, version: 5, from: &frame)
        }
        // Unknown api keys get header v1: no tag section is consumed.
        var unknown = ByteBuffer(hex: "0063 0000 00000001 ffff 00")
        let unknownHeader = try RequestHeader.decode(from: &unknown)
        #expect(unknownHeader.clientID == nil && unknown.readableBytes == 1)
    }

    @Test func metadataV4Request() throws {
        // Header v1 (key 3, v4, correlation 7, client "c"), topics ["t1", "t2"], allow auto-create.
        var frame = ByteBuffer(hex: "0003 0004 00000007 0001 63  00000002 0002 7431 0002 7432 01")
        let header = try RequestHeader.decode(from: &frame)
        #expect(header == RequestHeader(apiKey: 3, apiVersion: 4, correlationID: 7, clientID: "c"))
        let body = try KafkaRequestBody.decode(apiKey: .metadata, version: 4, from: &frame)
        #expect(
            body == .metadata(MetadataRequest(topics: [.init(name: "t1"), .init(name: "t2")], allowAutoTopicCreation: true)))
        #expect(frame.readableBytes == 0)

        // v1+: a null topic array means all topics.
        var all = ByteBuffer(hex: "ffffffff 00")
        let request = try MetadataRequest(from: &all, version: 4)
        #expect(request.topics == nil && request.allowAutoTopicCreation == false)
    }

    @Test func produceV7Request() throws {
        let records = ByteBuffer(bytes: Array(0..<70))
        var frame = ByteBuffer(hex: "0000 0007 0000002a 0007") + ByteBuffer(string: "rdkafka")
        frame.writeImmutableBuffer(ByteBuffer(hex: "ffff ffff 00001388 00000001 0005") + ByteBuffer(string: "topic"))
        frame.writeImmutableBuffer(ByteBuffer(hex: "00000001 00000002 00000046"))
        frame.writeImmutableBuffer(records)
        let header = try RequestHeader.decode(from: &frame)
        #expect(header == RequestHeader(apiKey: 0, apiVersion: 7, correlationID: 42, clientID: "rdkafka"))
        guard case .produce(let request) = try KafkaRequestBody.decode(apiKey: .produce, version: 7, from: &frame) else {
            Issue.record("not a produce request")
            return
        }
        #expect(request.transactionalId == nil)
        #expect(request.acks == -1)
        #expect(request.timeoutMs == 5000)
        #expect(request.topicData.map(\.name) == ["topic"])
        #expect(request.topicData[0].partitionData.map(\.index) == [2])
        #expect(request.topicData[0].partitionData[0].records == records)
        #expect(frame.readableBytes == 0)
        // Produce 0–2 are advertised but never decoded.
        #expect(ApiKey.produce.advertisedVersions == 0...11 && ApiKey.produce.acceptedVersions == 3...11)
    }

    @Test func flexibleResponseWithTaggedFields() throws {
        // ApiVersions v3: error 0, api_keys [{18, 0, 4, no tags}], throttle 0, then one tagged
        // field: FinalizedFeaturesEpoch (tag 1, 8 bytes) = 5, plus an unknown tag 7.
        let expected = ByteBuffer(hex: "0000 02 0012 0000 0004 00 00000000 02 01 08 0000000000000005 07 02 abcd")
        let response = ApiVersionsResponse(
            apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)], finalizedFeaturesEpoch: 5,
            unknownTaggedFields: [TaggedField(tag: 7, data: [0xAB, 0xCD])])
        var encoded = ByteBuffer()
        response.encode(into: &encoded, version: 3)
        #expect(encoded == expected)
        #expect(try ApiVersionsResponse(from: &encoded, version: 3) == response)
        #expect(encoded.readableBytes == 0)
        // The response header of ApiVersions is v0 even when the body is flexible.
        #expect(ApiKey.apiVersions.responseHeaderVersion(3) == 0)
        #expect(ApiKey.metadata.responseHeaderVersion(9) == 1 && ApiKey.metadata.responseHeaderVersion(8) == 0)

        // A known tagged struct nested in an array element (Fetch v12 CurrentLeader, tag 1).
        let fetch = FetchResponse(responses: [
            .init(topic: "t", partitions: [.init(partitionIndex: 1, currentLeader: .init(leaderId: 3, leaderEpoch: 4), records: ByteBuffer())])
        ])
        var fetchBytes = ByteBuffer()
        fetch.encode(into: &fetchBytes, version: 12)
        #expect(try FetchResponse(from: &fetchBytes, version: 12) == fetch)
    }

    @Test func responseHeaders() throws {
        var buffer = ByteBuffer()
        ResponseHeader(correlationID: 5, unknownTaggedFields: [TaggedField(tag: 1, data: [9])]).encode(into: &buffer, headerVersion: 1)
        #expect(buffer == ByteBuffer(hex: "00000005 01 01 01 09"))
        #expect(try ResponseHeader.decode(from: &buffer, headerVersion: 1).unknownTaggedFields == [TaggedField(tag: 1, data: [9])])
        ResponseHeader(correlationID: 5).encode(into: &buffer, headerVersion: 0)
        #expect(buffer == ByteBuffer(hex: "00000005"))
    }

    @Test func primitivesRejectBadInput() throws {
        var negative = ByteBuffer(hex: "fffe")
        #expect(throws: KafkaProtocolError.invalidLength("s", -2)) { try negative.readKafkaString(compact: false, "s") }
        var tooLong = ByteBuffer(hex: "7fffffff 00")
        #expect(throws: KafkaProtocolError.invalidLength("a", Int(Int32.max))) {
            let _: [Int32] = try tooLong.readKafkaArray(compact: false, "a")
        }
        var notUTF8 = ByteBuffer(hex: "0002 c328")
        #expect(throws: KafkaProtocolError.invalidValue("s is not UTF-8")) { try notUTF8.readKafkaString(compact: false, "s") }
        var nullNonNullable = ByteBuffer(hex: "00")
        #expect(throws: KafkaProtocolError.invalidValue("s is null")) { try nullNonNullable.readKafkaString(compact: true, "s") }
        #expect(throws: KafkaProtocolError.invalidValue("compression codec 5 in record batch attributes")) {
            try CompressionCodec(attributes: 0x15)
        }
        #expect(try CompressionCodec(attributes: 0x14) == .zstd)
        #expect(KafkaUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210).description == "01234567-89ab-cdef-fedc-ba9876543210")
    }
}

private func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
    var result = lhs
    result.writeImmutableBuffer(rhs)
    return result
}
