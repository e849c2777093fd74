import AMQKafkaProtocol
import NIOCore
import Testing

@Suite struct RoundTripTests {
    /// Every generated type, every version it handles: a value with every present field set survives
    /// encode → decode, and the decoder consumes exactly what the encoder wrote.
    @Test func everyTypeAndVersionRoundTrips() throws {
        var checked = 0
        for (type, versions) in generatedSampleTypes {
            for version in versions {
                try Self.roundTrip(type, version: version)
                checked += 1
            }
        }
        #expect(checked > 200)
    }

    static func roundTrip<T: SampleProviding>(_: T.Type, version: Int16) throws {
        let value = T.sample(version: version)
        var buffer = ByteBuffer()
        value.encode(into: &buffer, version: version)
        let written = buffer.readableBytes
        let decoded = try T(from: &buffer, version: version)
        #expect(decoded == value, "\(T.self) v\(version)")
        #expect(buffer.readableBytes == 0, "\(T.self) v\(version): \(buffer.readableBytes) of \(written) bytes unread")
    }

    @Test func samplesDifferFromDefaults() {
        // A fixture equal to the default would not prove that a field is written at all.
        #expect(ProduceRequest.sample(version: 7) != ProduceRequest())
        #expect(FetchResponse.sample(version: 12).responses.first?.partitions.first?.currentLeader
            != FetchResponse.PartitionData().currentLeader)
    }

    @Test func absentFieldsKeepTheirDefaults() throws {
        // Metadata v3 has no AllowAutoTopicCreation; it decodes as the schema default, true.
        var request = MetadataRequest(topics: nil, allowAutoTopicCreation: false)
        var buffer = ByteBuffer()
        request.encode(into: &buffer, version: 3)
        request = try MetadataRequest(from: &buffer, version: 3)
        #expect(request.allowAutoTopicCreation == true)
        #expect(request.topics == nil)
    }

    @Test func requestBodyDispatchesOnApiKey() throws {
        var checked = 0
        for (type, versions) in generatedSampleTypes {
            guard let request = type as? any KafkaRequest.Type else { continue }
            let key = request.apiKey
            for version in versions {
                var buffer = Self.encodedSample(type, version: version)
                let expected = buffer
                let body = try KafkaRequestBody.decode(apiKey: key, version: version, from: &buffer)
                #expect(body.apiKey == key)
                #expect(buffer.readableBytes == 0)
                var reencoded = ByteBuffer()
                body.encode(into: &reencoded, version: version)
                #expect(reencoded == expected, "\(key) v\(version)")
                checked += 1
            }
            var empty = ByteBuffer()
            let tooNew = key.acceptedVersions.upperBound + 1
            #expect(throws: KafkaProtocolError.unsupportedVersion(apiKey: key.rawValue, version: tooNew)) {
                try KafkaRequestBody.decode(apiKey: key, version: tooNew, from: &empty)
            }
        }
        #expect(checked == ApiKey.allCases.reduce(0) { $0 + $1.acceptedVersions.count })
    }

    static func encodedSample<T: SampleProviding>(_: T.Type, version: Int16) -> ByteBuffer {
        var buffer = ByteBuffer()
        T.sample(version: version).encode(into: &buffer, version: version)
        return buffer
    }
}
