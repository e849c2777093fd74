import AMQKafkaProtocol
import AMQTestSupport
import Foundation
import Logging
import NIOCore
import Testing

@testable import AMQKafkaClient

/// Kafka's own vectors (`UtilsTest.testMurmur2` in apache/kafka): a key must land on the same
/// partition whichever client produced it.
@Suite struct Murmur2Tests {
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func matchesKafka(_ input: String, _ expected: Int32) {
        #expect(Murmur2.hash(Array(input.utf8)) == expected)
    }

    @Test func partitionIsPositiveModulo() {
        // toPositive clears the sign bit: (-973932308 & 0x7fffffff) % 3.
        #expect(Murmur2.partition(forKey: Array("21".utf8), partitions: 3) == Int32((-973_932_308 & 0x7fff_ffff) % 3))
        for key in ["a", "bb", "ccc", "dddd", "eeeee"] {
            let partition = Murmur2.partition(forKey: Array(key.utf8), partitions: 7)
            #expect((0..<7).contains(partition))
        }
        #expect(Murmur2.toPositive(Int32.min) == 0)
    }
}

@Suite struct RangeAssignorTests {
    @Test func spreadsRangesWithExtrasFirst() {
        let result = RangeAssignor.assign(
            subscriptions: ["c": ["t"], "a": ["t"], "b": ["t"]], partitionCounts: ["t": 7]
        )
        #expect(result["a"]?["t"] == [0, 1, 2])
        #expect(result["b"]?["t"] == [3, 4])
        #expect(result["c"]?["t"] == [5, 6])
    }

    @Test func moreMembersThanPartitionsLeavesSomeIdle() {
        let result = RangeAssignor.assign(subscriptions: ["m1": ["t"], "m2": ["t"], "m3": ["t"]], partitionCounts: ["t": 2])
        #expect(result["m1"]?["t"] == [0])
        #expect(result["m2"]?["t"] == [1])
        #expect(result["m3"] == [:])
    }

    @Test func topicsAreAssignedIndependently() {
        let result = RangeAssignor.assign(subscriptions: ["a": ["x", "y"], "b": ["y"]], partitionCounts: ["x": 2, "y": 3])
        #expect(result["a"]?["x"] == [0, 1])
        #expect(result["a"]?["y"] == [0, 1])
        #expect(result["b"]?["y"] == [2])
        #expect(result["b"]?["x"] == nil)
    }

    @Test func consumerProtocolBytesRoundTrip() throws {
        let subscription = ConsumerProtocolBytes.subscription(topics: ["orders"])
        #expect(Array(subscription.prefix(2)) == [0, 0], "a leading int16 version, as Kafka writes it")
        #expect(try ConsumerProtocolBytes.decodeSubscription(subscription).topics == ["orders"])
        let assignment = ConsumerProtocolBytes.assignment(["orders": [0, 2]])
        let decoded = try ConsumerProtocolBytes.decodeAssignment(assignment)
        #expect(decoded.assignedPartitions.map(\.topic) == ["orders"])
        #expect(decoded.assignedPartitions.first?.partitions == [0, 2])
        #expect(try ConsumerProtocolBytes.decodeAssignment([]).assignedPartitions.isEmpty)
    }
}

/// Batches as the client builds them for Produce, read back as Fetch returns them.
@Suite struct FetchedBatchesTests {
    static func records(_ range: Range<Int>) -> [Record] {
        range.map { Record(key: $0 % 2 == 0 ? Array("k\($0)".utf8) : nil, value: Array("v\($0)".utf8), headers: [("h", [1])], timestamp: 1_000 + Int64($0)) }
    }

    /// Concatenates batches and sets their base offsets, as a broker would.
    static func log(_ batches: [(Int64, ByteBuffer)]) -> ByteBuffer {
        var log = ByteBuffer()
        for (offset, batch) in batches {
            var batch = batch
            RecordBatchHeader.setBaseOffset(offset, in: &batch, at: batch.readerIndex)
            log.writeBuffer(&batch)
        }
        return log
    }

    @Test func roundTripsRecordsAndOffsets() throws {
        let first = Self.records(0..<3)
        let second = Self.records(3..<5)
        let log = Self.log([(10, RecordBatchBuilder.batch(first)), (13, RecordBatchBuilder.batch(second))])
        #expect(try RecordBatchHeader.validateBatches(log).count == 2, "the CRC must hold after setting base offsets")
        let parsed = FetchedBatches.parse(log, partition: 4, from: 10)
        #expect(parsed.records.map(\.offset) == [10, 11, 12, 13, 14])
        #expect(parsed.records.map(\.record) == first + second)
        #expect(parsed.records.allSatisfy { $0.partition == 4 })
        #expect(parsed.nextOffset == 15)
        #expect(parsed.skipped.isEmpty)
    }

    @Test func skipsRecordsBelowTheRequestedOffset() {
        let log = Self.log([(10, RecordBatchBuilder.batch(Self.records(0..<5)))])
        let parsed = FetchedBatches.parse(log, partition: 0, from: 12)
        #expect(parsed.records.map(\.offset) == [12, 13, 14])
        #expect(parsed.nextOffset == 15)
    }

    @Test func dropsATruncatedLastBatch() {
        var log = Self.log([(0, RecordBatchBuilder.batch(Self.records(0..<2))), (2, RecordBatchBuilder.batch(Self.records(2..<4)))])
        log.moveWriterIndex(to: log.writerIndex - 5)
        let parsed = FetchedBatches.parse(log, partition: 0, from: 0)
        #expect(parsed.records.map(\.offset) == [0, 1])
        #expect(parsed.nextOffset == 2, "the truncated batch is fetched again")
    }

    @Test func reportsCompressedBatchesAndMovesPast() {
        // The attributes say gzip; the body is left uncompressed, which is fine: it is never read.
        let compressed = RecordBatchBuilder.batch(Self.records(0..<3), attributes: 1)
        let log = Self.log([(0, compressed), (3, RecordBatchBuilder.batch(Self.records(3..<4)))])
        let parsed = FetchedBatches.parse(log, partition: 2, from: 0)
        #expect(parsed.records.map(\.offset) == [3])
        #expect(parsed.skipped == ["partition 2: compressed batch (codec 1) at offsets 0-2 skipped"])
        #expect(parsed.nextOffset == 4)
    }

    @Test func emptyOrNullDataKeepsTheOffset() {
        #expect(FetchedBatches.parse(nil, partition: 0, from: 7).nextOffset == 7)
        #expect(FetchedBatches.parse(ByteBuffer(), partition: 0, from: 7).records.isEmpty)
    }
}

@Suite struct KafkaClientArgumentTests {
    @Test(arguments: ["127.0.0.1:9092", "localhost:1", "[::1]:9092", "a:1,b:2"])
    func acceptsAddresses(_ text: String) throws {
        #expect(try !BrokerAddress.parseList(text).isEmpty)
    }

    @Test(arguments: ["127.0.0.1", "host:0", "host:70000", ":9092", "host:port", ",", "a b:1"])
    func rejectsAddresses(_ text: String) {
        #expect(throws: KafkaClientError.self) { try BrokerAddress.parseList(text) }
    }

    @Test func acksSpellings() {
        #expect(ProduceAcks(argument: "all") == .all)
        #expect(ProduceAcks(argument: "-1") == .all)
        #expect(ProduceAcks(argument: "1") == .leader)
        #expect(ProduceAcks(argument: "0") == ProduceAcks.none)
        #expect(ProduceAcks(argument: "2") == nil)
    }

    @Test func unreachableBrokerSaysWhatToDo() async {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let error = await #expect(throws: KafkaClientError.self) {
            try await KafkaClient.withClient(KafkaClientConfiguration(bootstrap: [BrokerAddress(host: "127.0.0.1", port: 1)]), logger: .init(label: "test")) {
                try await $0.topic("t")
            }
        }
        #expect(error?.code == .brokerUnreachable)
        #expect(error?.message.contains("amq cluster status") == true)
    }
}

/// The client's produce → group consume → commit → leave path against a real agent (in this
/// process, with a real controller and local object store) that leads every partition.
@Suite(.timeLimit(.minutes(2)))
struct KafkaClientLiveTests {
    @Test func produceThenConsumeInAGroup() async throws {
        try await TestAgent.with(zones: ["a"]) { agent in
            try await roundTrip(bootstrap: try BrokerAddress.parseList(agent.bootstrap), topic: "orders")
        }
    }

    func roundTrip(bootstrap: [BrokerAddress], topic: String) async throws {
        let group = "amq-client-test-\(UUID().uuidString.prefix(8))"
        try await KafkaClient.withClient(KafkaClientConfiguration(bootstrap: bootstrap), logger: Logger(label: "test")) { client in
            let partitions = try await client.topic(topic).partitions.map(\.index)
            let before = try await client.listOffsets(topic: topic, partitions: partitions, spec: .latest)
            var sent: [Int32: [Record]] = [:]
            for index in 0..<20 {
                let key = Array("key-\(index)".utf8)
                sent[Murmur2.partition(forKey: key, partitions: partitions.count), default: []]
                    .append(Record(key: key, value: Array("value-\(index)".utf8), timestamp: 1_700_000_000_000 + Int64(index)))
            }
            let produced = try await client.produce(topic: topic, records: sent, acks: .all)
            #expect(produced.reduce(0) { $0 + $1.count } == 20)
            for part in produced { #expect(part.baseOffset == before[part.partition]) }

            var member = ConsumerGroupMember(client: client, group: group, topic: topic)
            #expect(try await member.join() == partitions)
            #expect(try await member.committed().isEmpty)
            var offsets = before
            var received: [Int32: [Record]] = [:]
            while received.values.reduce(0, { $0 + $1.count }) < 20 {
                let round = try await client.fetch(topic: topic, offsets: offsets, maxWait: .milliseconds(200))
                for fetched in round.records { received[fetched.partition, default: []].append(fetched.record) }
                offsets.merge(round.nextOffsets) { max($0, $1) }
            }
            // Keys and values, not whole records: a broker may rewrite timestamps (LogAppendTime).
            func pairs(_ records: [Int32: [Record]]) -> [Int32: [String]] {
                records.mapValues { $0.map { "\(String(decoding: $0.key ?? [], as: UTF8.self))=\(String(decoding: $0.value ?? [], as: UTF8.self))" } }
            }
            #expect(pairs(received) == pairs(sent))
            try await member.commit(offsets)
            #expect(try await member.committed() == offsets)
            try await member.leave()
        }
    }
}
