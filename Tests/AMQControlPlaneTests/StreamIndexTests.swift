import AMQControlPlane
import AMQStreamIndex
import AMQTestSupport
import Foundation
import Testing

/// The partition index's commit rules: only the current leader under its current epoch, only at
/// the partition's next offset; so the committed log never has a gap, an overlap or a duplicate.
@Suite struct StreamIndexTests {
    @Test func acceptsTheLeaderInOrderAndRefusesEverythingElse() async throws {
        let (store, directory) = try await makeStore(zones: ["a", "b"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)
        let leader = topic.partitions[0].leader
        let epoch = topic.partitions[0].leaderEpoch
        let other = leader == 1 ? 2 : 1

        #expect(try await commit(store, node: leader, epoch: epoch, key, 0..<10, object: "o1") == [.accepted])
        #expect(try await commit(store, node: leader, epoch: epoch, key, 10..<15, object: "o2") == [.accepted])
        #expect(try await commit(store, node: leader, epoch: epoch, key, 12..<20, object: "o3") == [.outOfOrder(nextOffset: 15)])
        #expect(try await commit(store, node: leader, epoch: epoch, key, 20..<25, object: "o4") == [.outOfOrder(nextOffset: 15)])
        #expect(try await commit(store, node: other, epoch: epoch, key, 15..<20, object: "o5") == [.fenced(leader: leader, leaderEpoch: epoch)])
        #expect(try await commit(store, node: leader, epoch: epoch - 1, key, 15..<20, object: "o6") == [.fenced(leader: leader, leaderEpoch: epoch)])
        let unknown = PartitionKey(topicID: topic.topic.id, partition: 7)
        #expect(try await commit(store, node: leader, epoch: epoch, unknown, 0..<1, object: "o7") == [.unknownPartition])

        let log = try await store.partitionLog("demo", key)
        #expect(log.nextOffset == 15 && log.logStartOffset == 0)
        #expect(log.segments.map(\.baseOffset) == [0, 10] && log.segments.map(\.objectKey) == ["o1", "o2"])
        #expect(try await store.partitionLog("demo", key, from: 12).segments.map(\.baseOffset) == [10])
        #expect(try await store.partitionLog("demo", key, from: 15).segments.isEmpty)
        // Refused commits leave no object behind in the index; accepted ones do.
        #expect(try await store.committedObjectKeys("demo") == ["o1", "o2"])
    }

    /// Issue 11, finding 6: a commit whose answer was lost is retried; the retry gets the first
    /// try's answer, even once compaction replaced the segment it wrote or the object is older
    /// than a first commit may be.
    @Test func aRetriedCommitGetsItsFirstAnswer() async throws {
        let (store, directory) = try await makeStore(zones: ["a"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)
        let epoch = topic.partitions[0].leaderEpoch
        let uploadedAt = Date()
        try await store.recordUploadIntents("demo", ["w1", "w2", "w3"], nodeID: 1, now: uploadedAt)
        var requests: [CommitRequest] = []
        for (index, object) in ["w1", "w2"].enumerated() {
            let offsets = Int64(index * 5)..<Int64(index * 5 + 5)
            let request = CommitRequest(
                nodeID: 1, objectKey: object, objectSize: 10, ranges: [range(key, epoch: epoch, offsets, position: 0, object: object)]
            )
            #expect(try await store.commit("demo", request).outcomes == [.accepted])
            requests.append(request)
        }
        // Compaction merges both segments into one object.
        let merged = Segment(baseOffset: 0, endOffset: 10, objectKey: "data/merged", position: 0, length: 20, maxTimestamp: 0)
        #expect(try await store.replaceSegments("demo", key, replaced: [0, 5], with: merged, objectSize: 20, nodeID: 0))
        // The retries: the same answers, and the log unchanged.
        #expect(try await store.commit("demo", requests[0]).outcomes == [.accepted])
        let late = uploadedAt.addingTimeInterval(CommitRequest.maxCommitDelay + 60)
        #expect(try await store.commit("demo", requests[1], now: late).outcomes == [.accepted])
        let log = try await store.partitionLog("demo", key)
        #expect(log.nextOffset == 10 && log.segments.map(\.objectKey) == ["data/merged"])
        // A new commit of an object whose intent is that old is still refused.
        let fresh = CommitRequest(nodeID: 1, objectKey: "w3", objectSize: 10, ranges: [range(key, epoch: epoch, 10..<15, position: 0, object: "w3")])
        #expect(try await store.commit("demo", fresh, now: late).outcomes == [.expired])
    }

    /// Issue 11, finding 14: the retention pass works a partition at a time, so a commit made
    /// while it runs goes through before the pass ends instead of waiting for all of it.
    @Test func retentionDoesNotHoldCommitsForTheWholePass() async throws {
        let (store, directory) = try await makeStore(zones: ["a"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let count = 300
        var config = TopicConfig()
        config.retentionMs = 1_000
        let topic = try await store.createTopic("demo", name: "old", partitions: count, config: config)
        let epoch = topic.partitions[0].leaderEpoch
        let keys = (0..<count).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
        for round in 0..<20 {
            let object = "old-\(round)"
            try await store.recordUploadIntents("demo", [object], nodeID: 1)
            let offsets = Int64(round)..<Int64(round + 1)
            let ranges = keys.map { range($0, epoch: epoch, offsets, position: 0, object: object) }
            #expect(try await store.commit("demo", CommitRequest(nodeID: 1, objectKey: object, objectSize: 10, ranges: ranges)).outcomes.allSatisfy { $0 == .accepted })
        }
        let live = try await store.createTopic("demo", name: "live", partitions: 1, config: TopicConfig())
        let liveKey = PartitionKey(topicID: live.topic.id, partition: 0)
        try await store.recordUploadIntents("demo", ["live"], nodeID: 1)
        let pass = Task { try await store.applyRetention("demo", now: Date()) }
        // Once the first partition's segments are gone, the pass is under way…
        let started = await eventually(timeout: .seconds(60), every: .milliseconds(1)) { (try? await store.partitionLog("demo", keys[0]).logStartOffset) == 20 }
        try #require(started)
        // …and a commit meanwhile lands before it ends.
        let commit = CommitRequest(nodeID: 1, objectKey: "live", objectSize: 10, ranges: [range(liveKey, epoch: live.partitions[0].leaderEpoch, 0..<1, position: 0, object: "live")])
        #expect(try await store.commit("demo", commit).outcomes == [.accepted])
        let lastBefore = try await store.partitionLog("demo", keys[count - 1]).logStartOffset
        #expect(lastBefore == 0, "the commit waited for the whole retention pass")
        #expect(try await pass.value == count * 20)
    }

    @Test func aMovedLeadershipFencesTheOldLeaderAndTheNewOneContinues() async throws {
        let (store, directory) = try await makeStore(zones: ["a", "b"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)
        let old = topic.partitions[0]
        #expect(try await commit(store, node: old.leader, epoch: old.leaderEpoch, key, 0..<100, object: "a") == [.accepted])
        _ = try await store.drainNode("demo", id: old.leader)
        let moved = try await store.partitionLog("demo", key)
        #expect(moved.leader != old.leader && moved.leaderEpoch == old.leaderEpoch + 1)
        #expect(try await commit(store, node: old.leader, epoch: old.leaderEpoch, key, 100..<110, object: "b") == [.fenced(leader: moved.leader, leaderEpoch: moved.leaderEpoch)])
        #expect(try await commit(store, node: moved.leader, epoch: moved.leaderEpoch, key, moved.nextOffset..<120, object: "c") == [.accepted])
        #expect(try await store.partitionLog("demo", key).nextOffset == 120)
    }

    @Test func oneCommitCoversSeveralPartitionsEachOnItsOwn() async throws {
        let (store, directory) = try await makeStore(zones: ["a"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 3, config: TopicConfig())
        let keys = (0..<3).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
        let epoch = topic.partitions[0].leaderEpoch
        _ = try await commit(store, node: 1, epoch: epoch, keys[1], 0..<5, object: "first")
        let ranges = [
            range(keys[0], epoch: epoch, 0..<3, position: 0),
            range(keys[1], epoch: epoch, 0..<2, position: 10),  // overlaps what "first" committed
            range(keys[2], epoch: epoch, 0..<4, position: 20),
            range(keys[0], epoch: epoch, 3..<6, position: 30),  // chains on this commit's first range
        ]
        try await store.recordUploadIntents("demo", ["multi"], nodeID: 1)
        let response = try await store.commit("demo", CommitRequest(nodeID: 1, objectKey: "multi", objectSize: 100, ranges: ranges))
        #expect(response.outcomes == [.accepted, .outOfOrder(nextOffset: 5), .accepted, .accepted])
        #expect(try await store.partitionLog("demo", keys[0]).nextOffset == 6)
    }

    @Test func malformedRangesAreRefusedWhole() async throws {
        let (store, directory) = try await makeStore(zones: ["a"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)
        for (offsets, position, length) in [(5..<5, 0, 10), (0..<5, 95, 10), (0..<5, 0, 0)] {
            let request = CommitRequest(
                nodeID: 1, objectKey: "bad", objectSize: 100,
                ranges: [.init(partition: key, leaderEpoch: 0, segment: Segment(baseOffset: Int64(offsets.lowerBound), endOffset: Int64(offsets.upperBound), objectKey: "bad", position: position, length: length, maxTimestamp: 0))]
            )
            await #expect(throws: ControlPlaneError.self) { _ = try await store.commit("demo", request) }
        }
        #expect(try await store.partitionLog("demo", key).nextOffset == 0)
    }

    @Test func racingLeadersAtOneOffsetCommitOnce() async throws {
        let (store, directory) = try await makeStore(zones: ["a", "b"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)
        let p = topic.partitions[0]
        let outcomes = try await withThrowingTaskGroup(of: [CommitResponse.Outcome].self) { group in
            for attempt in 0..<8 {
                group.addTask { try await commit(store, node: p.leader, epoch: p.leaderEpoch, key, 0..<10, object: "race-\(attempt)") }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(outcomes.filter { $0 == .accepted }.count == 1)
        #expect(try await store.partitionLog("demo", key).segments.count == 1)
    }

    /// Two would-be leaders, leadership moving between them, crashes that lose un-committed state,
    /// all in random order: after every step the committed log is contiguous from 0 to its next
    /// offset, and every accepted range came from the leader of the moment.
    @Test(arguments: 0..<20) func randomInterleavingsKeepTheLogWhole(seed: UInt64) async throws {
        let (store, directory) = try await makeStore(zones: ["a", "b"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "t", partitions: 1, config: TopicConfig())
        let key = PartitionKey(topicID: topic.topic.id, partition: 0)

        struct Agent {
            var id: Int
            var epoch: Int?  // the epoch it believes it leads under; nil when it thinks it is not leader
            var next: Int64 = 0
            var pending: [Range<Int64>] = []
        }
        var agents = [Agent(id: 1), Agent(id: 2)]
        var random = SeededGenerator(seed: seed)
        var objects = 0
        for _ in 0..<150 {
            let a = Int(random.next() % 2)
            switch random.next() % 6 {
            case 0:  // learn the topology, as an agent does from its long-poll
                let log = try await store.partitionLog("demo", key)
                if log.leader == agents[a].id {
                    if agents[a].epoch != log.leaderEpoch { agents[a] = Agent(id: agents[a].id, epoch: log.leaderEpoch, next: log.nextOffset) }
                } else {
                    agents[a].epoch = nil
                    agents[a].pending = []
                }
            case 1, 2:  // append locally and upload: a pending range
                guard agents[a].epoch != nil else { continue }
                let count = Int64(1 + random.next() % 5)
                agents[a].pending.append(agents[a].next..<(agents[a].next + count))
                agents[a].next += count
            case 3:  // commit the oldest pending range
                guard let epoch = agents[a].epoch, let first = agents[a].pending.first else { continue }
                objects += 1
                let leaderBefore = try await store.partitionLog("demo", key)
                let outcome = try await commit(store, node: agents[a].id, epoch: epoch, key, first, object: "obj-\(objects)")
                if outcome == [.accepted] {
                    #expect(leaderBefore.leader == agents[a].id && leaderBefore.leaderEpoch == epoch)
                    agents[a].pending.removeFirst()
                } else {
                    // Fenced or out of order: stop leading until the topology says otherwise.
                    agents[a].epoch = nil
                    agents[a].pending = []
                }
            case 4:  // crash: everything not committed is lost
                agents[a] = Agent(id: agents[a].id)
            default:  // leadership moves to the other node
                let log = try await store.partitionLog("demo", key)
                _ = try await store.drainNode("demo", id: log.leader)
                _ = try await store.activateNode("demo", id: log.leader)
            }
            let log = try await store.partitionLog("demo", key)
            var expected: Int64 = 0
            for segment in log.segments {
                #expect(segment.baseOffset == expected, "gap or overlap at \(segment.baseOffset), seed \(seed)")
                expected = segment.endOffset
            }
            #expect(expected == log.nextOffset, "seed \(seed)")
        }
    }
}

private func range(_ key: PartitionKey, epoch: Int, _ offsets: Range<Int64>, position: Int, object: String = "multi") -> CommitRequest.Range {
    .init(
        partition: key, leaderEpoch: epoch,
        segment: Segment(baseOffset: offsets.lowerBound, endOffset: offsets.upperBound, objectKey: object, position: position, length: 10, maxTimestamp: 0)
    )
}

private func commit(_ store: TopologyStore, node: Int, epoch: Int, _ key: PartitionKey, _ offsets: Range<Int64>, object: String) async throws -> [CommitResponse.Outcome] {
    let segment = Segment(baseOffset: offsets.lowerBound, endOffset: offsets.upperBound, objectKey: object, position: 0, length: 10, maxTimestamp: 0)
    try await store.recordUploadIntents("demo", [object], nodeID: node)
    return try await store.commit("demo", CommitRequest(nodeID: node, objectKey: object, objectSize: 10, ranges: [.init(partition: key, leaderEpoch: epoch, segment: segment)])).outcomes
}

/// Pointers into router objects: the index learns the shared object once, whoever commits first.
@Suite struct RouterObjectCommitTests {
    @Test func rangesPointingIntoARouterObjectAreCommittedAndTheObjectIsKnownOnce() async throws {
        let (store, directory) = try await makeStore(zones: ["a"], agentsPerZone: 1)
        defer { directory.cleanup() }
        let topic = try await store.createTopic("demo", name: "orders", partitions: 2, config: TopicConfig())
        let keys = (0..<2).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
        let epoch = topic.partitions[0].leaderEpoch
        let router = CommitRequest.ObjectReference(key: "router/n2/1", size: 100)
        try await store.recordUploadIntents("demo", [router.key], nodeID: 2)
        for (index, key) in keys.enumerated() {
            let segment = Segment(baseOffset: 0, endOffset: 2, objectKey: router.key, position: 10 + index * 40, length: 40, maxTimestamp: 0)
            let request = CommitRequest(nodeID: 1, objectKey: "", objectSize: 0, ranges: [.init(partition: key, leaderEpoch: epoch, segment: segment)], routerObjects: [router])
            #expect(try await store.commit("demo", request).outcomes == [.accepted])
        }
        #expect(try await store.committedObjectKeys("demo") == [router.key])
        #expect(try await store.partitionLog("demo", keys[1]).segments.map(\.objectKey) == [router.key])
        // A range into an object the request does not name, or past its end, is refused whole.
        for (key, position) in [("router/n2/other", 0), (router.key, 90)] {
            let segment = Segment(baseOffset: 2, endOffset: 3, objectKey: key, position: position, length: 20, maxTimestamp: 0)
            let request = CommitRequest(nodeID: 1, objectKey: "", objectSize: 0, ranges: [.init(partition: keys[0], leaderEpoch: epoch, segment: segment)], routerObjects: [router])
            await #expect(throws: ControlPlaneError.self) { _ = try await store.commit("demo", request) }
        }
    }
}
