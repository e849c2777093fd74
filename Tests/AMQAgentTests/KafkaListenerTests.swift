import AMQAgent
import AMQControlPlane
import AMQKafkaProtocol
import AMQStorage
import AMQTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// The agent's Kafka listener at the wire: frames in, frames out, through a real agent, controller
/// and local object store in this process. What real clients do is covered by the conformance
/// suite; here are the edges they never exercise — versions we do not speak, malformed and
/// oversized frames, every produce error, pipelining with acks=0.
@Suite(.timeLimit(.minutes(3))) struct KafkaListenerTests {
    @Test func apiVersionsAdvertisesOurRangesAndAnswersNewerClientsInV0() async throws {
        try await TestAgent.with { agent in
            try await WireClient.with(port: agent.kafkaPort) { client in
                let response = try await client.call(ApiVersionsRequest(clientSoftwareName: "amq-test", clientSoftwareVersion: "1.0"), version: 3)
                #expect(response.errorCode == 0)
                let ranges = Dictionary(uniqueKeysWithValues: response.apiKeys.map { ($0.apiKey, $0.minVersion...$0.maxVersion) })
                #expect(ranges[ApiKey.produce.rawValue] == 0...11)
                #expect(ranges[ApiKey.fetch.rawValue] == 4...12)
                #expect(ranges[ApiKey.apiVersions.rawValue] == 0...4)
                #expect(ranges.count == ApiKey.allCases.count)

                // v5 is newer than we know: a v0 body with error 35, header v0, and the connection stays.
                var frame = ByteBuffer()
                RequestHeader(apiKey: ApiKey.apiVersions.rawValue, apiVersion: 5, correlationID: 77, clientID: "future").encode(into: &frame)
                frame.writeBytes([0, 0])  // a body we are not expected to read
                var reply = try #require(try await client.roundTrip(frame))
                #expect(reply.readInteger(as: Int32.self) == 77)
                let old = try ApiVersionsResponse(from: &reply, version: 0)
                #expect(old.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
                #expect(old.apiKeys.map(\.apiKey) == [ApiKey.apiVersions.rawValue] && old.apiKeys.first?.maxVersion == 4)
                #expect(try await client.call(ApiVersionsRequest(), version: 0).errorCode == 0)

                // v3+ checks the software name.
                #expect(try await client.call(ApiVersionsRequest(clientSoftwareName: "-bad-", clientSoftwareVersion: "1"), version: 3).errorCode == KafkaErrorCode.invalidRequest.rawValue)
            }
            // Each answered request is counted per API on the admin endpoint.
            let metrics = await get("http://127.0.0.1:\(agent.adminPort)/metrics").body
            #expect(metrics.contains(#"amq_kafka_requests_total{api="ApiVersions"} 4"#), "\(metrics)")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndAcksZeroGetsNoAnswer() async throws {
        try await TestAgent.with { agent in
            try await WireClient.with(port: agent.kafkaPort) { client in
                let partition = try #require(agent.ledPartitions.first)
                func produce(_ value: String, acks: Int16) -> ProduceRequest {
                    ProduceRequest(acks: acks, timeoutMs: 5000, topicData: [
                        .init(name: "orders", partitionData: [.init(index: Int32(partition), records: RecordBatchBuilder.batch([Record(value: Array(value.utf8), timestamp: 1)]))])
                    ])
                }
                // Five requests at once; the acks=0 produce (correlation 2) must leave no gap or answer.
                try await client.send(MetadataRequest(topics: [.init(name: "orders")]), version: 12, correlationID: 1)
                try await client.send(produce("zero", acks: 0), version: 9, correlationID: 2)
                try await client.send(produce("one", acks: 1), version: 9, correlationID: 3)
                try await client.send(produce("all", acks: -1), version: 7, correlationID: 4)
                try await client.send(ApiVersionsRequest(), version: 0, correlationID: 5)
                var correlations: [Int32] = []
                for _ in 0..<4 {
                    let frame = try #require(try await client.receive())
                    correlations.append(try #require(frame.getInteger(at: frame.readerIndex, as: Int32.self)))
                }
                #expect(correlations == [1, 3, 4, 5])
                // All three were stored, acks=0 included, in request order.
                let fetch = try await client.call(
                    FetchRequest(maxWaitMs: 0, minBytes: 0, topics: [.init(topic: "orders", partitions: [.init(partition: Int32(partition), fetchOffset: 0, partitionMaxBytes: 1 << 20)])]),
                    version: 11
                )
                let records = try #require(fetch.responses.first?.partitions.first?.records)
                var values: [String] = []
                var index = records.readerIndex
                while let header = RecordBatchHeader(records, at: index) {
                    values += try RecordBatchBuilder.records(in: records, at: index).map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
                    index += header.totalSize
                }
                #expect(values == ["zero", "one", "all"])
            }
        }
    }

    @Test func produceErrorsGetTheirCodesAndTheConnectionStays() async throws {
        try await TestAgent.with { agent in
            try await WireClient.with(port: agent.kafkaPort) { client in
                let led = try #require(agent.ledPartitions.first)
                let notLed = try #require(agent.otherPartitions.first)
                let good = RecordBatchBuilder.batch([Record(value: Array("v".utf8), timestamp: 1)])
                var corrupt = good
                corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)  // a record byte: the CRC no longer matches
                var two = good
                var second = good
                two.writeBuffer(&second)
                let large = RecordBatchBuilder.batch([Record(value: Array(repeating: 1, count: 2_000_000), timestamp: 1)])

                func code(_ topic: String, _ partition: Int, _ records: ByteBuffer, acks: Int16 = -1) async throws -> Int16 {
                    let response = try await client.call(
                        ProduceRequest(acks: acks, timeoutMs: 5000, topicData: [.init(name: topic, partitionData: [.init(index: Int32(partition), records: records)])]),
                        version: 9
                    )
                    return try #require(response.responses.first?.partitionResponses.first?.errorCode)
                }
                #expect(try await code("orders", led, good) == 0)
                #expect(try await code("nosuch", 0, good) == KafkaErrorCode.unknownTopicOrPartition.rawValue)
                #expect(try await code("orders", 99, good) == KafkaErrorCode.unknownTopicOrPartition.rawValue)
                #expect(try await code("orders", notLed, good) == KafkaErrorCode.notLeaderOrFollower.rawValue)
                #expect(try await code("orders", led, corrupt) == KafkaErrorCode.corruptMessage.rawValue)
                #expect(try await code("orders", led, two) == KafkaErrorCode.invalidRecord.rawValue)
                #expect(try await code("orders", led, large) == KafkaErrorCode.messageTooLarge.rawValue)
                #expect(try await code("orders", led, good, acks: 2) == KafkaErrorCode.invalidRequiredAcks.rawValue)
                // After all that, the same connection still works.
                #expect(try await code("orders", led, good) == 0)
                let metadata = try await client.call(MetadataRequest(topics: [.init(name: "nosuch")], allowAutoTopicCreation: true), version: 12)
                #expect(metadata.topics.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue, "auto-creation is off by default")
                let led2 = metadata.brokers.map(\.nodeId)
                #expect(led2 == [1], "only the running agent is listed")
            }
        }
    }

    @Test func metadataCreatesUnknownTopicsOnlyWhenTheClusterAllowsIt() async throws {
        try await TestAgent.with { agent in
            try await WireClient.with(port: agent.kafkaPort) { client in
                // No topics asked: none in v1+, all of them in v0 (which cannot say null).
                #expect(try await client.call(MetadataRequest(topics: []), version: 12).topics.isEmpty)
                #expect(try await client.call(MetadataRequest(topics: []), version: 0).topics.map(\.name) == ["orders"])
                #expect(try await client.call(MetadataRequest(topics: nil), version: 1).topics.map(\.name) == ["orders"])
                let ask = MetadataRequest(topics: [.init(name: "auto-made")], allowAutoTopicCreation: true)
                #expect(try await client.call(ask, version: 12).topics.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
                _ = try await agent.controller.store.updateSettings("demo", [("auto.create.topics.enable", "true"), ("default.partitions", "2")])
                // Once the agent holds the new settings, asking creates the topic through the controller.
                let created = await eventually {
                    let topic = try? await client.call(ask, version: 12).topics.first
                    return topic?.errorCode == 0 ? topic : nil
                }
                #expect(created?.partitions.count == 2)
                #expect(try await agent.controller.store.topics("demo").map(\.name).contains("auto-made"))
                // A client that says no is not given one.
                let declined = MetadataRequest(topics: [.init(name: "not-wanted")], allowAutoTopicCreation: false)
                #expect(try await client.call(declined, version: 12).topics.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
            }
        }
    }

    @Test func malformedAndOversizedFramesCloseOnlyTheirConnection() async throws {
        try await TestAgent.with { agent in
            try await WireClient.with(port: agent.kafkaPort) { bystander in
                let malformed: [ByteBuffer] = [
                    { var b = ByteBuffer(); b.writeInteger(Int32(999)); b.writeInteger(Int16(0)); b.writeInteger(Int32(1)); return b }(),  // unknown API key
                    { var b = ByteBuffer(); RequestHeader(apiKey: 3, apiVersion: 12, correlationID: 1, clientID: "x").encode(into: &b); b.writeBytes([0xFF, 0xFF, 0xFF]); return b }(),  // a body that does not parse
                    { var b = ByteBuffer(); RequestHeader(apiKey: 0, apiVersion: 1, correlationID: 1, clientID: "x").encode(into: &b); return b }(),  // Produce v1: advertised, never decoded
                    { var b = ByteBuffer(); b.writeInteger(Int16(3)); return b }(),  // no room for a header
                ]
                for bad in malformed {
                    try await WireClient.with(port: agent.kafkaPort) { client async throws -> Void in
                        #expect(try await client.roundTrip(bad) == nil, "a malformed request got an answer")
                    }
                }
                // A frame claiming 200 MiB is refused from its size prefix alone.
                try await WireClient.with(port: agent.kafkaPort) { client async throws -> Void in
                    var huge = ByteBuffer()
                    huge.writeInteger(Int32(200 << 20))
                    huge.writeBytes([0, 18, 0, 0])
                    #expect(try await client.roundTripRaw(huge) == nil)
                }
                #expect(try await bystander.call(ApiVersionsRequest(), version: 0).errorCode == 0)
            }
        }
    }

    @Test func fetchAtTheEndWaitsForDataThenReturnsIt() async throws {
        try await TestAgent.with { agent in
            let partition = try #require(agent.ledPartitions.first)
            try await WireClient.with(port: agent.kafkaPort) { consumer in
                try await WireClient.with(port: agent.kafkaPort) { producer in
                    // Parks: nothing is there, and it may wait up to 60 s.
                    try await consumer.send(
                        FetchRequest(maxWaitMs: 60_000, minBytes: 1, topics: [.init(topic: "orders", partitions: [.init(partition: Int32(partition), fetchOffset: 0, partitionMaxBytes: 1 << 20)])]),
                        version: 12, correlationID: 9
                    )
                    let produced = try await producer.call(
                        ProduceRequest(acks: -1, timeoutMs: 5000, topicData: [.init(name: "orders", partitionData: [.init(index: Int32(partition), records: RecordBatchBuilder.batch([Record(value: Array("late".utf8), timestamp: 1)]))])]),
                        version: 9
                    )
                    #expect(produced.responses.first?.partitionResponses.first?.errorCode == 0)
                    var frame = try #require(try await consumer.receive())
                    #expect(try ResponseHeader.decode(from: &frame, headerVersion: 1).correlationID == 9)
                    let fetched = try FetchResponse(from: &frame, version: 12)
                    let data = try #require(fetched.responses.first?.partitions.first)
                    #expect(data.errorCode == 0 && data.highWatermark == 1)
                    #expect((data.records?.readableBytes ?? 0) > 0)
                }
            }
            // The storage engine's state is on /metrics too.
            let metrics = await get("http://127.0.0.1:\(agent.adminPort)/metrics").body
            #expect(metrics.contains("amq_storage_led_partitions \(agent.ledPartitions.count)"), "\(metrics)")
            #expect(metrics.contains("amq_storage_ranges_committed_total 1"), "\(metrics)")
            #expect(metrics.contains("amq_storage_pending_upload_bytes 0"), "\(metrics)")
        }
    }
}

// MARK: - Fixture

/// A bare Kafka connection: frames out, frames in, nothing clever.
struct WireClient: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let inbound: Inbound

    /// The inbound frames, read by one caller at a time.
    final class Inbound: @unchecked Sendable {
        // Only ever used by the single test task that owns the client.
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }
    }

    /// Runs `body` with a connection to `port`, closed when it returns or throws.
    static func with<T>(port: Int, _ body: (WireClient) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(WireClient(outbound: outbound, inbound: Inbound(inbound.makeAsyncIterator())))
        }
    }

    func send<Request: KafkaMessage>(_ request: Request, version: Int16, correlationID: Int32) async throws {
        var frame = ByteBuffer()
        RequestHeader(apiKey: Request.apiKey.rawValue, apiVersion: version, correlationID: correlationID, clientID: "amq-test").encode(into: &frame)
        request.encode(into: &frame, version: version)
        try await sendRaw(sized(frame))
    }

    func sized(_ body: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(Int32(body.readableBytes))
        var body = body
        frame.writeBuffer(&body)
        return frame
    }

    func sendRaw(_ frame: ByteBuffer) async throws {
        try await outbound.write(frame)
    }

    /// The next response frame (correlation id first), or nil once the agent closed the connection.
    func receive() async throws -> ByteBuffer? {
        try await inbound.iterator.next()
    }

    func call<Request: KafkaRequest>(_ request: Request, version: Int16) async throws -> Request.Response {
        try await send(request, version: version, correlationID: 42)
        var frame = try #require(try await receive(), "the connection closed")
        #expect(frame.readInteger(as: Int32.self) == 42)
        if Request.apiKey.responseHeaderVersion(version) == 1 { _ = try frame.readKafkaTaggedFields("header") }
        return try Request.Response(from: &frame, version: version)
    }

    /// Sends a header+body and returns the answer, or nil when the agent closed the connection.
    func roundTrip(_ body: ByteBuffer) async throws -> ByteBuffer? {
        try await roundTripRaw(sized(body))
    }

    func roundTripRaw(_ frame: ByteBuffer) async throws -> ByteBuffer? {
        try await sendRaw(frame)
        do {
            return try await receive()
        } catch {
            return nil
        }
    }
}
