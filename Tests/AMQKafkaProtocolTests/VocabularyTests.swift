import AMQKafkaProtocol
import NIOCore
import NIOTestUtils
import Testing

/// Error codes, their names and the framing helpers every Kafka speaker in the package shares.
@Suite struct VocabularyTests {
    @Test func errorCodesAreNamedAsKafkaSpellsThem() {
        #expect(KafkaErrorCode.notLeaderOrFollower.name == "NOT_LEADER_OR_FOLLOWER (6)")
        // The Swift names abbreviate ID; Kafka's do not run it into the next word.
        #expect(KafkaErrorCode.invalidProducerIDMapping.name == "INVALID_PRODUCER_ID_MAPPING (49)")
        #expect(KafkaErrorCode.groupIDNotFound.name == "GROUP_ID_NOT_FOUND (69)")
        #expect(KafkaErrorCode.none.description == "NONE (0)")
        #expect(KafkaErrorCode(rawValue: 999).name == "Kafka error 999")
    }

    @Test func retriabilityIsAboutStaleMetadataAndBusyCoordinators() {
        #expect(KafkaErrorCode.notLeaderOrFollower.isRetriableWithRefresh)
        #expect(KafkaErrorCode.coordinatorLoadInProgress.isRetriableWithRefresh)
        #expect(!KafkaErrorCode.messageTooLarge.isRetriableWithRefresh)
        #expect(!KafkaErrorCode(rawValue: 999).isRetriableWithRefresh)
    }

    /// A code we have no constant for survives decoding and re-encoding, and `switch` still
    /// matches the known ones.
    @Test func unknownCodesRoundTrip() throws {
        var bytes = ByteBuffer()
        HeartbeatResponse(throttleTimeMs: 0, errorCode: KafkaErrorCode(rawValue: 4242)).encode(into: &bytes, version: 4)
        var copy = bytes
        let decoded = try HeartbeatResponse(from: &copy, version: 4)
        #expect(decoded.errorCode.rawValue == 4242)
        var again = ByteBuffer()
        decoded.encode(into: &again, version: 4)
        #expect(again == bytes)
        let matched: String =
            switch KafkaErrorCode(rawValue: 6) {
            case .none: "none"
            case .notLeaderOrFollower: "not leader"
            default: "other"
            }
        #expect(matched == "not leader")
    }

    @Test func domainErrorsBringTheirOwnCode() {
        struct Stale: KafkaErrorConvertible {
            var kafkaErrorCode: KafkaErrorCode { .fencedLeaderEpoch }
        }
        struct Other: Error {}
        #expect(KafkaErrorCode(Stale()) == .fencedLeaderEpoch)
        #expect(KafkaErrorCode(Other()) == .unknownServerError)
    }

    @Test func encodedFramesDecodeBack() throws {
        var stream = KafkaFrameEncoder.frame { $0.writeBytes([1, 2, 3]) }
        KafkaFrameEncoder.writeFrame(into: &stream) { _ in }
        #expect(stream == ByteBuffer(bytes: [0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0]))
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(stream, [ByteBuffer(bytes: [1, 2, 3]), ByteBuffer()])],
            decoderFactory: { KafkaFrameDecoder() })
    }
}
