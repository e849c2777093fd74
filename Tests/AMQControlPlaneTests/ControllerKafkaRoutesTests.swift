import AMQControlPlane
import AMQTestSupport
import Foundation
import Logging
import Testing

/// The Kafka-facing control routes through a real controller on 127.0.0.1 (port picked by the
/// kernel) and the real ``ControlClient``: errors must come back with the store's codes, because
/// the Kafka layer maps those codes to Kafka error codes.
@Suite(.timeLimit(.minutes(2))) struct ControllerKafkaRoutesTests {
    @Test func producerIDsThroughTheController() async throws {
        try await TestController.with { fixture in
            let first = try await fixture.client.allocateProducerID()
            let second = try await fixture.client.allocateProducerID()
            #expect(first == ControlAPI.ProducerIDResponse(producerID: 1000, producerEpoch: 0))
            #expect(second.producerID == 1001)
        }
    }

    @Test func topicAdminIsVersionedAuditedAndMapsErrors() async throws {
        try await TestController.with { fixture in
            let client = fixture.client
            let version = try await fixture.store.topologyVersion("demo")

            let checked = try await client.createTopic(name: "orders", partitions: 3, validateOnly: true)
            #expect(checked.partitions.count == 3)
            #expect(try await fixture.store.topics("demo").isEmpty)

            let created = try await client.createTopic(name: "orders", partitions: 3, configs: ["retention.ms": "1000", "cleanup.policy": "delete"])
            #expect(created.topic.config.retentionMs == 1000 && created.topic.config.extra["cleanup.policy"] == "delete")
            #expect(try await fixture.store.topologyVersion("demo") == version + 1)
            #expect(try await fixture.store.auditLog("demo", limit: 1).first?.action == "topic.create")

            // -1 partitions: the cluster default.
            let defaulted = try await client.createTopic(name: "events", partitions: -1)
            #expect(defaulted.partitions.count == ClusterSettings().defaultPartitions)

            await expectCode(.topicExists) { _ = try await client.createTopic(name: "orders", partitions: 1) }
            await expectCode(.invalidTopicName) { _ = try await client.createTopic(name: "bad/name", partitions: 1) }
            await expectCode(.invalidPartitions) { _ = try await client.createTopic(name: "zero", partitions: 0) }
            await expectCode(.invalidConfig) { _ = try await client.createTopic(name: "cfg", partitions: 1, configs: ["linger.ms": "9999"]) }
            await expectCode(.invalidConfig) { _ = try await client.createTopic(name: "cfg", partitions: 1, configs: ["Not A Key": "1"]) }

            let grown = try await client.createPartitions(topic: "orders", count: 5)
            #expect(grown.partitions.count == 5)
            await expectCode(.invalidPartitions) { _ = try await client.createPartitions(topic: "orders", count: 5) }
            await expectCode(.topicNotFound) { _ = try await client.createPartitions(topic: "nope", count: 5) }

            try await client.deleteTopic(name: "events")
            await expectCode(.topicNotFound) { try await client.deleteTopic(name: "events") }
            #expect(try await fixture.store.topics("demo").map(\.name) == ["orders"])
            #expect(try await fixture.store.auditLog("demo", limit: 1).first?.action == "topic.delete")
            // create, create, grow, delete: four versions, none for the refused or dry-run calls.
            #expect(try await fixture.store.topologyVersion("demo") == version + 4)
        }
    }

    @Test func groupOffsetsThroughTheControllerSurviveARestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        // A group id with characters that need escaping in a URL path.
        let group = "consumers/one two?x=1&y#z%"
        try await TestController.with(directory: directory.path) { fixture in
            let client = fixture.client
            _ = try await client.createTopic(name: "orders", partitions: 2)
            let results = try await client.commitOffsets(
                group: group,
                [
                    GroupOffset(topic: "orders", partition: 0, offset: 11, leaderEpoch: 2, metadata: "meta-a"),
                    GroupOffset(topic: "orders", partition: 9, offset: 1),
                ]
            )
            #expect(results.map(\.outcome) == [.ok, .unknownTopicOrPartition])
            _ = try await client.commitOffsets(group: "other", [GroupOffset(topic: "orders", partition: 1, offset: 3)])
            #expect(try await client.listOffsetGroups() == ["consumers/one two?x=1&y#z%", "other"].sorted())
        }
        // A new controller process on the same database.
        try await TestController.with(directory: directory.path, createCluster: false) { fixture in
            let client = fixture.client
            let offsets = try await client.fetchOffsets(group: group, topics: nil)
            #expect(offsets.count == 1)
            #expect(offsets.first?.offset == 11 && offsets.first?.leaderEpoch == 2 && offsets.first?.metadata == "meta-a")
            #expect(try await client.fetchOffsets(group: group, topics: ["orders", "missing"]).map(\.partition) == [0])
            #expect(try await client.fetchOffsets(group: group, topics: ["missing"]).isEmpty)
            #expect(try await client.fetchOffsets(group: group, topics: []).isEmpty)
            try await client.deleteOffsets(group: group)
            #expect(try await client.fetchOffsets(group: group, topics: nil).isEmpty)
            #expect(try await client.listOffsetGroups() == ["other"])
            await expectCode(.invalidArgument) { _ = try await client.commitOffsets(group: "", []) }
        }
    }
}
