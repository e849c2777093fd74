import AMQAgent
import AMQControlPlane
import AMQKafkaClient
import AMQKafkaProtocol
import AMQStorage
import AMQTestSupport
import Foundation
import Logging
import NIOCore
import Testing

/// The agent's Kafka listener at the wire: frames in, frames out, through a real agent, controller
/// and local object store in this process. What real clients do is covered by the conformance
/// suite; here are the edges they never exercise — versions we do not speak, malformed and
/// oversized frames, every produce error, pipelining with acks=0.
@Suite(.timeLimit(.minutes(3))) struct KafkaListenerTests {
    @Test func apiVersionsAdvertisesOurRangesAndAnswersNewerClientsInV0() async throws {
        try await TestAgent.with { agent in
            try await withConnection(agent.kafkaPort) { client in
                let response = try await client.call(ApiVersionsRequest(clientSoftwareName: "amq-test", clientSoftwareVersion: "1.0"), version: 3)
                #expect(response.errorCode == KafkaErrorCode.none)
                let ranges = Dictionary(uniqueKeysWithValues: response.apiKeys.map { ($0.apiKey, $0.minVersion...$0.maxVersion) })
                #expect(ranges[ApiKey.produce.rawValue] == 0...11)
                #expect(ranges[ApiKey.fetch.rawValue] == 4...12)
                #expect(ranges[ApiKey.apiVersions.rawValue] == 0...4)
                #expect(ranges.count == ApiKey.allCases.count)

                // v5 is newer than we know: a v0 body with error 35, header v0 (the connection reads
                // it as the answer to its correlation id), and the connection stays.
                var reply = try #require(
                    try await client.roundTrip(apiKey: .apiVersions, version: 5, clientID: "future", body: ByteBuffer(bytes: [0, 0]))  // a body we are not expected to read
                )
                let old = try ApiVersionsResponse(from: &reply, version: 0)
                #expect(old.errorCode == .unsupportedVersion)
                #expect(old.apiKeys.map(\.apiKey) == [ApiKey.apiVersions.rawValue] && old.apiKeys.first?.maxVersion == 4)
                #expect(try await client.call(ApiVersionsRequest(), version: 0).errorCode == KafkaErrorCode.none)

                // v3+ checks the software name.
                #expect(try await client.call(ApiVersionsRequest(clientSoftwareName: "-bad-", clientSoftwareVersion: "1"), version: 3).errorCode == .invalidRequest)
            }
            // Each answered request is counted per API on the admin endpoint.
            let metrics = await get("http://127.0.0.1:\(agent.adminPort)/metrics").body
            #expect(metrics.contains(#"amq_kafka_requests_total{api="ApiVersions"} 4"#), "\(metrics)")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndAcksZeroGetsNoAnswer() async throws {
        try await TestAgent.with { agent in
            // The connection logs each response's correlation id as it reads it: that is the order.
            let logs = LogCapture()
            try await withConnection(agent.kafkaPort, logger: Logger(label: "amq.test.kafka") { _ in logs }) { client in
                let partition = try #require(agent.ledPartitions.first)
                func produce(_ value: String, acks: ProduceAcks) -> ProduceRequest {
                    ProduceRequest(acks: acks.rawValue, timeoutMs: 60_000, topicData: [
                        .init(name: "orders", partitionData: [.init(index: Int32(partition), records: RecordBatchBuilder.batch([Record(value: Array(value.utf8), timestamp: 1)]))])
                    ])
                }
                // Five requests at once; the acks=0 produce must leave no gap or answer (an answer to
                // a correlation id nobody waits for fails the connection).
                let metadata = try await client.send(MetadataRequest(topics: [.init(name: "orders")]), version: 12, clientID: "amq-test")
                _ = try await client.send(produce("zero", acks: .none), version: 9, clientID: "amq-test")
                let one = try await client.send(produce("one", acks: .leader), version: 9, clientID: "amq-test")
                let all = try await client.send(produce("all", acks: .all), version: 7, clientID: "amq-test")
                let versions = try await client.send(ApiVersionsRequest(), version: 0, clientID: "amq-test")
                _ = try await client.response(to: metadata, of: MetadataRequest.self, version: 12)
                #expect(try await client.response(to: one, of: ProduceRequest.self, version: 9).responses.first?.partitionResponses.first?.errorCode == KafkaErrorCode.none)
                #expect(try await client.response(to: all, of: ProduceRequest.self, version: 7).responses.first?.partitionResponses.first?.errorCode == KafkaErrorCode.none)
                _ = try await client.response(to: versions, of: ApiVersionsRequest.self, version: 0)
                let order = logs.messages.filter { $0.contains("Kafka response") }
                #expect(order == [metadata, one, all, versions].map { "trace Kafka response \(["kafka.correlation_id": "\($0)"] as Logger.Metadata)" })
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
            try await withConnection(agent.kafkaPort) { client in
                let led = try #require(agent.ledPartitions.first)
                let notLed = try #require(agent.otherPartitions.first)
                let good = RecordBatchBuilder.batch([Record(value: Array("v".utf8), timestamp: 1)])
                var corrupt = good
                corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)  // a record byte: the CRC no longer matches
                var two = good
                var second = good
                two.writeBuffer(&second)
                let large = RecordBatchBuilder.batch([Record(value: Array(repeating: 1, count: 2_000_000), timestamp: 1)])
                // Two records whose header claims offsets for one, with a CRC that matches: Kafka
                // refuses a count that disagrees with the offset range (issue 11, finding 13).
                var miscounted = RecordBatchBuilder.batch([Record(value: Array("a".utf8), timestamp: 1), Record(value: Array("b".utf8), timestamp: 1)])
                miscounted.setInteger(Int32(0), at: miscounted.readerIndex + RecordBatchHeader.Offsets.lastOffsetDelta)
                let crc = miscounted.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.crcStart...])) }
                miscounted.setInteger(crc, at: miscounted.readerIndex + RecordBatchHeader.Offsets.crc)

                func code(_ topic: String, _ partition: Int, _ records: ByteBuffer, acks: Int16 = ProduceAcks.all.rawValue) async throws -> KafkaErrorCode {
                    let response = try await client.call(
                        ProduceRequest(acks: acks, timeoutMs: 60_000, topicData: [.init(name: topic, partitionData: [.init(index: Int32(partition), records: records)])]),
                        version: 9
                    )
                    return try #require(response.responses.first?.partitionResponses.first?.errorCode)
                }
                #expect(try await code("orders", led, good) == .none)
                #expect(try await code("nosuch", 0, good) == .unknownTopicOrPartition)
                #expect(try await code("orders", 99, good) == .unknownTopicOrPartition)
                #expect(try await code("orders", notLed, good) == .notLeaderOrFollower)
                #expect(try await code("orders", led, corrupt) == .corruptMessage)
                #expect(try await code("orders", led, two) == .invalidRecord)
                #expect(try await code("orders", led, miscounted) == .invalidRecord)
                #expect(try await code("orders", led, large) == .messageTooLarge)
                #expect(try await code("orders", led, good, acks: 2) == .invalidRequiredAcks)
                // After all that, the same connection still works.
                #expect(try await code("orders", led, good) == .none)
                let metadata = try await client.call(MetadataRequest(topics: [.init(name: "nosuch")], allowAutoTopicCreation: true), version: 12)
                #expect(metadata.topics.first?.errorCode == .unknownTopicOrPartition, "auto-creation is off by default")
                let led2 = metadata.brokers.map(\.nodeId)
                #expect(led2 == [1], "only the running agent is listed")
            }
        }
    }

    @Test func metadataCreatesUnknownTopicsOnlyWhenTheClusterAllowsIt() async throws {
        try await TestAgent.with { agent in
            try await withConnection(agent.kafkaPort) { client in
                // No topics asked: none in v1+, all of them in v0 (which cannot say null).
                #expect(try await client.call(MetadataRequest(topics: []), version: 12).topics.isEmpty)
                #expect(try await client.call(MetadataRequest(topics: []), version: 0).topics.map(\.name) == ["orders"])
                #expect(try await client.call(MetadataRequest(topics: nil), version: 1).topics.map(\.name) == ["orders"])
                let ask = MetadataRequest(topics: [.init(name: "auto-made")], allowAutoTopicCreation: true)
                #expect(try await client.call(ask, version: 12).topics.first?.errorCode == .unknownTopicOrPartition)
                _ = try await agent.controller.store.updateSettings("demo", [("auto.create.topics.enable", "true"), ("default.partitions", "2")])
                // Once the agent holds the new settings, asking creates the topic through the controller.
                let created = await eventually {
                    let topic = try? await client.call(ask, version: 12).topics.first
                    return topic?.errorCode == KafkaErrorCode.none ? topic : nil
                }
                #expect(created?.partitions.count == 2)
                #expect(try await agent.controller.store.topics("demo").map(\.name).contains("auto-made"))
                // A client that says no is not given one.
                let declined = MetadataRequest(topics: [.init(name: "not-wanted")], allowAutoTopicCreation: false)
                #expect(try await client.call(declined, version: 12).topics.first?.errorCode == .unknownTopicOrPartition)
            }
        }
    }

    /// Issue 13, item 5: the answer that auto-creates a topic says LEADER_NOT_AVAILABLE (as
    /// Kafka's does), and a leader named later takes the first produce: over 20 topics, no first
    /// produce is refused. An acks=0 produce that fails is counted on /metrics.
    @Test func autoCreatedTopicsTakeTheirFirstProduceAndAcksZeroFailuresAreCounted() async throws {
        try await TestAgent.with { agent in
            _ = try await agent.controller.store.updateSettings("demo", [("auto.create.topics.enable", "true"), ("default.partitions", "1")])
            #expect(await eventually { await agent.service.state.topology?.settings.autoCreateTopics == true })
            try await withConnection(agent.kafkaPort) { client in
                var refused: [String] = []
                for index in 0..<20 {
                    let name = "auto-\(index)"
                    let ask = MetadataRequest(topics: [.init(name: name)], allowAutoTopicCreation: true)
                    #expect(try await client.call(ask, version: 12).topics.first?.errorCode == .leaderNotAvailable, "\(name)")
                    let ready = await eventually(every: .milliseconds(50)) {
                        (try? await client.call(ask, version: 12))?.topics.first?.partitions.first?.errorCode == KafkaErrorCode.none
                    }
                    #expect(ready, "\(name) never got a leader")
                    let batch = RecordBatchBuilder.batch([Record(value: Array("first".utf8), timestamp: 1)])
                    let produced = try await client.call(
                        ProduceRequest(acks: ProduceAcks.all.rawValue, timeoutMs: 30_000, topicData: [.init(name: name, partitionData: [.init(index: 0, records: batch)])]),
                        version: 9
                    )
                    let code = produced.responses.first?.partitionResponses.first?.errorCode
                    if code != KafkaErrorCode.none { refused.append("\(name): \(String(describing: code))") }
                }
                #expect(refused.isEmpty, "first produces refused: \(refused)")

                // acks=0 to a partition that does not exist: no answer, but a count.
                let batch = RecordBatchBuilder.batch([Record(value: Array("lost".utf8), timestamp: 1)])
                _ = try await client.send(
                    ProduceRequest(acks: ProduceAcks.none.rawValue, timeoutMs: 30_000, topicData: [.init(name: "orders", partitionData: [.init(index: 99, records: batch)])]),
                    version: 9, clientID: "fire-and-forget"
                )
                let counted = await eventually {
                    await get("http://127.0.0.1:\(agent.adminPort)/metrics").body.contains("amq_kafka_acks0_produce_failures_total 1")
                }
                #expect(counted)
            }
        }
    }

    @Test func malformedAndOversizedFramesCloseOnlyTheirConnection() async throws {
        try await TestAgent.with { agent in
            try await withConnection(agent.kafkaPort) { bystander in
                let malformed: [ByteBuffer] = [
                    KafkaFrameEncoder.frame { $0.writeInteger(Int32(999)); $0.writeInteger(Int16(0)); $0.writeInteger(Int32(1)) },  // unknown API key
                    KafkaFrameEncoder.frame { RequestHeader(apiKey: 3, apiVersion: 12, correlationID: 1, clientID: "x").encode(into: &$0); $0.writeBytes([0xFF, 0xFF, 0xFF]) },  // a body that does not parse
                    KafkaFrameEncoder.frame { RequestHeader(apiKey: 0, apiVersion: 1, correlationID: 1, clientID: "x").encode(into: &$0) },  // Produce v1: advertised, never decoded
                    KafkaFrameEncoder.frame { $0.writeInteger(Int16(3)) },  // no room for a header
                ]
                for bad in malformed {
                    try await withConnection(agent.kafkaPort) { client in
                        try await client.writeRaw(bad)
                        await expectClosed(client, "a malformed request got an answer")
                    }
                }
                // A frame claiming 200 MiB is refused from its size prefix alone.
                try await withConnection(agent.kafkaPort) { client in
                    var huge = ByteBuffer()
                    huge.writeInteger(Int32(200 << 20))
                    huge.writeBytes([0, 18, 0, 0])
                    try await client.writeRaw(huge)
                    await expectClosed(client, "an oversized frame was read")
                }
                #expect(try await bystander.call(ApiVersionsRequest(), version: 0).errorCode == KafkaErrorCode.none)
            }
        }
    }

    /// A client that sets no fetch deadline asks to wait 2³¹−1 ms (issue 11): the wait ends when
    /// the client goes away, not when the deadline does.
    @Test func aFetchThatWouldWaitForeverEndsWhenItsClientLeaves() async throws {
        try await TestAgent.with { agent in
            let led = try #require(agent.ledPartitions.first)
            let storage = try #require(await agent.service.state.storage)
            try await withConnection(agent.kafkaPort) { client in
                let fetch = FetchRequest(
                    maxWaitMs: Int32.max, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(topic: "orders", partitions: [.init(partition: Int32(led), fetchOffset: 0, partitionMaxBytes: 1 << 20)])]
                )
                _ = try await client.send(fetch, version: 12, clientID: "forever")
                #expect(await eventually { await storage.statistics.parkedReads == 1 })
            }
            // Closed: the parked fetch is cancelled at once, long before the 30 s cap.
            #expect(await eventually(timeout: .seconds(10)) { await storage.statistics.parkedReads == 0 })
        }
    }

    /// Finding 11 (issue 11): the response is bounded by the cluster's fetch.max.bytes whatever the
    /// client asks (a client asking 2 GiB would overflow the frame's 32-bit length).
    @Test func aFetchResponseIsBoundedByTheClustersFetchMaxBytes() async throws {
        try await TestAgent.with { agent in
            let partition = try #require(agent.ledPartitions.first)
            try await withConnection(agent.kafkaPort) { client in
                for index in 0..<5 {
                    let batch = RecordBatchBuilder.batch([Record(value: Array(repeating: UInt8(index), count: 100_000), timestamp: 1)])
                    let produced = try await client.call(
                        ProduceRequest(acks: ProduceAcks.all.rawValue, timeoutMs: 60_000, topicData: [.init(name: "orders", partitionData: [.init(index: Int32(partition), records: batch)])]),
                        version: 9
                    )
                    #expect(produced.responses.first?.partitionResponses.first?.errorCode == KafkaErrorCode.none)
                }
                func fetched() async throws -> Int {
                    let response = try await client.call(
                        FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: Int32.max, topics: [.init(topic: "orders", partitions: [.init(partition: Int32(partition), fetchOffset: 0, partitionMaxBytes: Int32.max)])]),
                        version: 12
                    )
                    return response.responses.first?.partitions.first?.records?.readableBytes ?? 0
                }
                #expect(try await fetched() > 500_000, "all five batches under the default 55 MiB")
                _ = try await agent.controller.store.updateSettings("demo", [("fetch.max.bytes", "250000")])
                #expect(await eventually { await agent.service.state.topology?.settings.fetchMaxBytes == 250_000 })
                let bounded = try await fetched()
                #expect(bounded > 0 && bounded <= 250_000, "\(bounded) bytes")
            }
        }
    }

    /// Finding 13 (issue 11): `max.connections` closes connections beyond the cap as they come,
    /// and `connections.max.idle.ms` closes one with no request for that long, but not one whose
    /// fetch is parked; both counted on /metrics. (No timing: the parked fetch is woken by a
    /// produce once the silent connection is seen closed.)
    @Test func connectionsBeyondTheCapAndIdleOnesAreClosed() async throws {
        try await TestAgent.with { agent in
            _ = try await agent.controller.store.updateSettings("demo", [("max.connections", "2"), ("connections.max.idle.ms", "2000")])
            #expect(await eventually { await agent.service.state.topology?.settings.maxConnections == 2 })
            let partition = try #require(agent.ledPartitions.first)
            try await withConnection(agent.kafkaPort) { busy in
                // First of all, a fetch parked at the end of the log: it keeps this connection busy
                // however long the rest takes.
                let end = try await busy.call(
                    ListOffsetsRequest(replicaId: -1, topics: [.init(name: "orders", partitions: [.init(partitionIndex: Int32(partition), timestamp: -1)])]),
                    version: 7
                ).topics.first?.partitions.first?.offset ?? 0
                let fetch = FetchRequest(
                    maxWaitMs: 25_000, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(topic: "orders", partitions: [.init(partition: Int32(partition), fetchOffset: end, partitionMaxBytes: 1 << 20)])]
                )
                let parked = try await busy.send(fetch, version: 12, clientID: "parked")
                // A second connection that never sends anything.
                try await withConnection(agent.kafkaPort) { silent in
                    try await withConnection(agent.kafkaPort) { third in
                        await expectClosed(third, "a third connection was served past max.connections=2")
                    }
                    // The silent one is closed as idle…
                    let idleClosed = await eventually(timeout: .seconds(30)) {
                        await get("http://127.0.0.1:\(agent.adminPort)/metrics").body.contains("amq_kafka_connections_idle_closed_total 1")
                    }
                    #expect(idleClosed)
                    await expectClosed(silent, "an idle connection was kept past connections.max.idle.ms")
                    // …the busy one is not: its fetch gets the record produced now (through a
                    // connection the closed one's place admits).
                    #expect(await eventually { await get("http://127.0.0.1:\(agent.adminPort)/metrics").body.contains("amq_kafka_connections_open 1") })
                    try await withConnection(agent.kafkaPort) { producer in
                        let batch = RecordBatchBuilder.batch([Record(value: Array("wake".utf8), timestamp: 1)])
                        _ = try await producer.call(
                            ProduceRequest(acks: ProduceAcks.all.rawValue, timeoutMs: 30_000, topicData: [.init(name: "orders", partitionData: [.init(index: Int32(partition), records: batch)])]),
                            version: 9
                        )
                    }
                    let fetched = try await busy.response(to: parked, of: FetchRequest.self, version: 12)
                    #expect((fetched.responses.first?.partitions.first?.records?.readableBytes ?? 0) > 0)
                }
            }
            let metrics = await get("http://127.0.0.1:\(agent.adminPort)/metrics").body
            #expect(metrics.contains("amq_kafka_connections_rejected_total 1"), "\(metrics.split(separator: "\n").filter { $0.contains("connections") })")
        }
    }

    /// Issue 13, item 6: a topic (or partition) named twice in one admin request is refused in
    /// every entry with INVALID_REQUEST, and nothing of it is applied, as Kafka does.
    @Test func adminRequestsNamingATopicTwiceAreRefusedWhole() async throws {
        try await TestAgent.with { agent in
            try await withConnection(agent.kafkaPort) { client in
                let twice = CreateTopicsRequest(topics: [.init(name: "twice", numPartitions: 1), .init(name: "twice", numPartitions: 2)], timeoutMs: 5000)
                let created = try await client.call(twice, version: 5)
                #expect(created.topics.map(\.errorCode) == [.invalidRequest, .invalidRequest])
                #expect(try await agent.controller.store.topics("demo").contains { $0.name == "twice" } == false)

                let grow = CreatePartitionsRequest(topics: [.init(name: "orders", count: 8), .init(name: "orders", count: 9)], timeoutMs: 5000)
                #expect(try await client.call(grow, version: 1).results.map(\.errorCode) == [.invalidRequest, .invalidRequest])
                #expect(try await agent.controller.store.describeTopic("demo", "orders").topic.partitions == 4)

                let delete = DeleteTopicsRequest(topicNames: ["orders", "orders"], timeoutMs: 5000)
                #expect(try await client.call(delete, version: 4).responses.map(\.errorCode) == [.invalidRequest, .invalidRequest])
                #expect(try await agent.controller.store.topics("demo").contains { $0.name == "orders" })

                let led = try #require(agent.ledPartitions.first)
                let records = DeleteRecordsRequest(
                    topics: [.init(name: "orders", partitions: [.init(partitionIndex: Int32(led), offset: 0), .init(partitionIndex: Int32(led), offset: -1)])],
                    timeoutMs: 5000
                )
                #expect(try await client.call(records, version: 2).topics.first?.partitions.map(\.errorCode) == [.invalidRequest, .invalidRequest])
            }
        }
    }

    /// A produce whose commit does not come within its timeoutMs is answered REQUEST_TIMED_OUT,
    /// every partition of it (one timer per request), and the connection goes on.
    @Test func aProduceNotCommittedWithinItsTimeoutIsAnsweredTimedOut() async throws {
        try await TestAgent.with(zones: ["a"]) { agent in
            try await withConnection(agent.kafkaPort) { client in
                func produce(timeoutMs: Int32) -> ProduceRequest {
                    ProduceRequest(acks: ProduceAcks.all.rawValue, timeoutMs: timeoutMs, topicData: [
                        .init(name: "orders", partitionData: [0, 1].map { .init(index: $0, records: RecordBatchBuilder.batch([Record(value: [1], timestamp: 1)])) })
                    ])
                }
                func codes(_ response: ProduceResponse) -> [KafkaErrorCode] { response.responses.flatMap(\.partitionResponses).map(\.errorCode) }
                #expect(codes(try await client.call(produce(timeoutMs: 30_000), version: 9)) == [.none, .none])
                // The object store's directory becomes a file: uploads fail (and are retried) until it is back.
                let objects = agent.controller.directory + "/objects"
                try FileManager.default.moveItem(atPath: objects, toPath: objects + ".away")
                #expect(FileManager.default.createFile(atPath: objects, contents: Data()))
                #expect(codes(try await client.call(produce(timeoutMs: 300), version: 9)) == [.requestTimedOut, .requestTimedOut])
                try FileManager.default.removeItem(atPath: objects)
                try FileManager.default.moveItem(atPath: objects + ".away", toPath: objects)
                #expect(codes(try await client.call(produce(timeoutMs: 30_000), version: 9)) == [.none, .none])
            }
        }
    }

    /// Issue 14, item 4: the agent's memory budget (`agent.memory.bytes`) sizes the WAL's room,
    /// the router buffer and both caches, changes live with the cluster setting, and /metrics
    /// shows each part's share beside what it holds.
    @Test func theMemoryBudgetIsAppliedLiveAndShownPerPart() async throws {
        try await TestAgent.with(zones: ["a"]) { agent in
            let metrics = "http://127.0.0.1:\(agent.adminPort)/metrics"
            let initial = await get(metrics).body
            #expect(initial.contains(#"amq_memory_budget_bytes{part="total"} \#(384 << 20)"#), "\(initial)")
            #expect(initial.contains(#"amq_memory_budget_bytes{part="wal"} \#(144 << 20)"#))
            #expect(initial.contains(#"amq_memory_budget_bytes{part="block_cache"} \#(96 << 20)"#))
            #expect(initial.contains("amq_storage_router_uncommitted_bytes 0") && initial.contains("amq_process_resident_bytes"))
            let storage = try #require(await agent.service.state.storage)
            #expect(await storage.blockCache.capacity == 96 << 20)

            _ = try await agent.controller.store.updateSettings("demo", [("agent.memory.bytes", String(128 << 20))])
            #expect(await eventually(timeout: .seconds(30)) { await storage.memoryBudget?.total == 128 << 20 })
            #expect(await storage.blockCache.capacity == 32 << 20)
            let changed = await get(metrics).body
            #expect(changed.contains(#"amq_memory_budget_bytes{part="log_cache"} \#(16 << 20)"#), "\(changed)")
            #expect(changed.contains(#"amq_memory_budget_bytes{part="router"} \#(16 << 20)"#))

            // Too small to hold a buffer filling and one uploading: refused with what to do.
            await #expect(throws: ControlPlaneError.self) { try await agent.controller.store.updateSettings("demo", [("agent.memory.bytes", "1000")]) }
        }
    }

    @Test func fetchAtTheEndWaitsForDataThenReturnsIt() async throws {
        try await TestAgent.with { agent in
            let partition = try #require(agent.ledPartitions.first)
            try await withConnection(agent.kafkaPort) { consumer in
                try await withConnection(agent.kafkaPort) { producer in
                    // Parks: nothing is there, and it may wait up to 60 s.
                    let fetch = try await consumer.send(
                        FetchRequest(maxWaitMs: 60_000, minBytes: 1, topics: [.init(topic: "orders", partitions: [.init(partition: Int32(partition), fetchOffset: 0, partitionMaxBytes: 1 << 20)])]),
                        version: 12, clientID: "amq-test"
                    )
                    let produced = try await producer.call(
                        ProduceRequest(acks: ProduceAcks.all.rawValue, timeoutMs: 60_000, topicData: [.init(name: "orders", partitionData: [.init(index: Int32(partition), records: RecordBatchBuilder.batch([Record(value: Array("late".utf8), timestamp: 1)]))])]),
                        version: 9
                    )
                    #expect(produced.responses.first?.partitionResponses.first?.errorCode == KafkaErrorCode.none)
                    let fetched = try await consumer.response(to: fetch, of: FetchRequest.self, version: 12)
                    let data = try #require(fetched.responses.first?.partitions.first)
                    #expect(data.errorCode == KafkaErrorCode.none && data.highWatermark == 1)
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

/// Runs `body` with the CLI client's connection to an agent's Kafka listener, closed when `body`
/// returns or throws.
func withConnection<T>(
    _ port: Int, logger: Logger = Logger(label: "amq.test.kafka"), _ body: (BrokerConnection) async throws -> T
) async throws -> T {
    let connection = try await BrokerConnection.connect(to: BrokerAddress(host: "127.0.0.1", port: port), timeout: .seconds(5), logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await connection.run() }
        defer { connection.close() }
        return try await body(connection)
    }
}

/// Expects the agent to have closed `connection` without answering what was sent: a request
/// sent now fails with the connection.
func expectClosed(_ connection: BrokerConnection, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) async {
    let error = await #expect(throws: KafkaClientError.self, comment, sourceLocation: sourceLocation) {
        try await connection.call(ApiVersionsRequest(), version: 0)
    }
    #expect(error?.code == .connectionClosed, comment, sourceLocation: sourceLocation)
}

extension BrokerConnection {
    func call<Request: KafkaRequest>(_ request: Request, version: Int16) async throws -> Request.Response {
        try await call(request, version: version, clientID: "amq-test")
    }
}
