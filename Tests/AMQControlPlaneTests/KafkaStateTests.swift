import AMQControlPlane
import Foundation
import Testing

/// What the Kafka broker keeps in the control plane: producer ids, group offsets, topic admin
/// with validateOnly, and the auto-create setting.
@Suite struct KafkaStateTests {
    @Test func producerIDsAreMonotonicAndSurviveReopening() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let version = try await store.topologyVersion("demo")
        #expect(try await store.allocateProducerID("demo") == 1000)
        #expect(try await store.allocateProducerID("demo") == 1001)
        // Reopened as after a controller restart: the sequence goes on, nothing is handed out twice.
        let reopened = TopologyStore(database: try ControlPlaneDatabase(path: directory.path + "/amq.db"), actor: "test")
        #expect(try await reopened.allocateProducerID("demo") == 1002)
        // Not a topology change.
        #expect(try await store.topologyVersion("demo") == version)
    }

    @Test func concurrentProducerIDAllocationsAreDistinct() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<20 { group.addTask { try await store.allocateProducerID("demo") } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(ids) == Set(1000..<1020))
    }

    @Test func offsetsCommitPerEntryAndReadBackWithMetadataAndEpoch() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "orders", partitions: 2, config: TopicConfig())
        _ = try await store.createTopic("demo", name: "events", partitions: 1, config: TopicConfig())
        let version = try await store.topologyVersion("demo")

        let results = try await store.commitOffsets(
            "demo", group: "g1",
            [
                GroupOffset(topic: "orders", partition: 0, offset: 5, leaderEpoch: 3, metadata: "meta-a"),
                GroupOffset(topic: "orders", partition: 2, offset: 1),
                GroupOffset(topic: "missing", partition: 0, offset: 1),
                GroupOffset(topic: "events", partition: 0, offset: 9, metadata: String(repeating: "x", count: 5000)),
                GroupOffset(topic: "orders", partition: 1, offset: 7),
            ]
        )
        #expect(results.map(\.outcome) == [.ok, .unknownTopicOrPartition, .unknownTopicOrPartition, .offsetMetadataTooLarge, .ok])
        #expect(results.map(\.topic) == ["orders", "orders", "missing", "events", "orders"])

        var offsets = try await store.fetchOffsets("demo", group: "g1", topics: nil)
        #expect(offsets.map { "\($0.topic)-\($0.partition)@\($0.offset)" } == ["orders-0@5", "orders-1@7"])
        #expect(offsets[0].leaderEpoch == 3 && offsets[0].metadata == "meta-a" && offsets[0].committedAt != nil)
        #expect(offsets[1].leaderEpoch == -1 && offsets[1].metadata == nil)

        // A second commit overwrites, another group is separate.
        _ = try await store.commitOffsets("demo", group: "g1", [GroupOffset(topic: "orders", partition: 0, offset: 6, metadata: "meta-b")])
        _ = try await store.commitOffsets("demo", group: "g2", [GroupOffset(topic: "events", partition: 0, offset: 1)])
        offsets = try await store.fetchOffsets("demo", group: "g1", topics: ["orders", "events"])
        #expect(offsets.first?.offset == 6 && offsets.first?.metadata == "meta-b")
        #expect(try await store.fetchOffsets("demo", group: "g1", topics: ["events"]).isEmpty)
        #expect(try await store.fetchOffsets("demo", group: "g1", topics: []).isEmpty)
        #expect(try await store.groupsWithOffsets("demo") == ["g1", "g2"])

        // Offsets are not topology.
        #expect(try await store.topologyVersion("demo") == version)

        #expect(try await store.deleteOffsets("demo", group: "g1") == 2)
        #expect(try await store.fetchOffsets("demo", group: "g1", topics: nil).isEmpty)
        #expect(try await store.groupsWithOffsets("demo") == ["g2"])
        await expectCode(.invalidArgument) { _ = try await store.commitOffsets("demo", group: "", []) }
    }

    @Test func offsetsSurviveReopeningAndVanishWithTheirTopic() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        _ = try await store.commitOffsets("demo", group: "g", [GroupOffset(topic: "orders", partition: 0, offset: 42, leaderEpoch: 1, metadata: "m")])
        let reopened = TopologyStore(database: try ControlPlaneDatabase(path: directory.path + "/amq.db"), actor: "test")
        let offsets = try await reopened.fetchOffsets("demo", group: "g", topics: nil)
        #expect(offsets.map(\.offset) == [42] && offsets.first?.metadata == "m")

        // A topic created again under the same name is another topic: old offsets must not apply.
        try await reopened.deleteTopic("demo", name: "orders")
        _ = try await reopened.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        #expect(try await reopened.fetchOffsets("demo", group: "g", topics: nil).isEmpty)
        #expect(try await reopened.groupsWithOffsets("demo").isEmpty)
    }

    @Test func resetOffsetsStoresGivenPositionsOrNothing() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "orders", partitions: 3, config: TopicConfig())
        _ = try await store.commitOffsets("demo", group: "g", [GroupOffset(topic: "orders", partition: 0, offset: 50, leaderEpoch: 2, metadata: "m")])
        let reset = try await store.resetOffsets("demo", group: "g", topic: "orders", to: [0: 10, 1: 0, 2: 7])
        #expect(reset.map(\.offset) == [10, 0, 7])
        #expect(reset.allSatisfy { $0.leaderEpoch == -1 && $0.metadata == nil })

        await expectCode(.invalidArgument) { _ = try await store.resetOffsets("demo", group: "g", topic: "orders", to: [0: 1, 3: 1]) }
        await expectCode(.topicNotFound) { _ = try await store.resetOffsets("demo", group: "g", topic: "nope", to: [0: 1]) }
        // The refused reset changed nothing, not even the valid partition 0.
        #expect(try await store.fetchOffsets("demo", group: "g", topics: ["orders"]).map(\.offset) == [10, 0, 7])
    }

    @Test func validateOnlyChecksEverythingAndChangesNothing() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "orders", partitions: 2, config: TopicConfig())
        let version = try await store.topologyVersion("demo")
        let audit = try await store.auditLog("demo").count

        let wouldBe = try await store.createTopic("demo", name: "events", partitions: 4, config: TopicConfig(), validateOnly: true)
        #expect(wouldBe.partitions.count == 4 && wouldBe.topic.name == "events")
        await expectCode(.topicExists) { _ = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig(), validateOnly: true) }
        let grown = try await store.createPartitions("demo", topic: "orders", count: 5, validateOnly: true)
        #expect(grown.partitions.count == 5)
        await expectCode(.invalidPartitions) { _ = try await store.createPartitions("demo", topic: "orders", count: 2) }
        await expectCode(.invalidPartitions) { _ = try await store.createPartitions("demo", topic: "orders", count: 1) }
        await expectCode(.topicNotFound) { _ = try await store.createPartitions("demo", topic: "nope", count: 3) }

        #expect(try await store.topologyVersion("demo") == version)
        #expect(try await store.auditLog("demo").count == audit)
        #expect(try await store.topics("demo").map(\.name) == ["orders"])
        #expect(try await store.describeTopic("demo", "orders").partitions.count == 2)

        // For real: bumps the version and is audited like `amq topic alter --partitions`.
        _ = try await store.createPartitions("demo", topic: "orders", count: 3)
        #expect(try await store.topologyVersion("demo") == version + 1)
        #expect(try await store.auditLog("demo", limit: 1).first?.action == "topic.alter")
    }

    @Test func autoCreateTopicsIsAClusterSettingInTheSnapshot() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        #expect(try await store.snapshot("demo").settings.autoCreateTopics == false)
        let version = try await store.topologyVersion("demo")
        try await store.updateSettings("demo", [("auto.create.topics.enable", "true")])
        let snapshot = try await store.snapshot("demo")
        #expect(snapshot.settings.autoCreateTopics == true)
        #expect(snapshot.version == version + 1)
        await expectCode(.invalidArgument) { try await store.updateSettings("demo", [("auto.create.topics.enable", "maybe")]) }
    }
}

@Suite struct ClusterSettingsCodingTests {
    @Test func missingKeysDecodeAsDefaults() throws {
        let settings = try JSONDecoder().decode(ClusterSettings.self, from: Data(#"{"heartbeatIntervalMs": 500}"#.utf8))
        #expect(settings.heartbeatIntervalMs == 500)
        #expect(settings.autoCreateTopics == false)
        #expect(settings.defaultPartitions == ClusterSettings().defaultPartitions)
    }
}
