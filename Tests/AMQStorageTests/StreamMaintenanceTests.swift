import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import AMQStorage
import AMQStreamIndex
import Foundation
import Logging
import NIOCore
import Testing

/// Retention, DeleteRecords, compaction and garbage collection on data written by a real engine.
@Suite(.timeLimit(.minutes(3))) struct StreamMaintenanceTests {
    static let grace: TimeInterval = 600

    func maintenance(_ cluster: ClusterFixture, _ store: any ObjectStore, minSegments: Int = 4) -> StreamMaintenance {
        var configuration = StreamMaintenance.Configuration()
        configuration.grace = Self.grace
        configuration.compactMinSegments = minSegments
        return StreamMaintenance(index: cluster.index, objects: store, configuration: configuration, logger: Logger(label: "test.maintenance"))
    }

    /// Writes `count` appends of one batch each to partition 0, one object per append.
    func write(_ count: Int, _ cluster: ClusterFixture, _ store: any ObjectStore) async throws {
        var configuration = StorageConfiguration(nodeID: cluster.leader)
        configuration.linger = .milliseconds(1)
        try await withEngine(configuration, store: store, cluster) { engine in
            try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch, linger: .zero)
            for index in 0..<count { _ = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: index, records: 3)) }
        }
    }

    /// The test batches are stamped in 2023: keep them forever unless a test is about time.
    static var keepForever: TopicConfig {
        var config = TopicConfig()
        config.retentionMs = -1
        return config
    }

    @Test func compactionMergesSmallSegmentsAndReadsStayTheSame() async throws {
        try await withCluster(partitions: 1, config: Self.keepForever) { cluster in
            let store = try LocalDirectoryStore(root: cluster.directory + "/objects")
            try await write(12, cluster, store)
            let walObjects = try await store.listAll(prefix: "wal/").map(\.key)
            #expect(walObjects.count == 12)

            let report = try await maintenance(cluster, store).runOnce()
            #expect(report.compactedRuns == 1)
            let log = try await cluster.store.partitionLog("demo", cluster.keys[0])
            #expect(log.segments.count == 1 && log.segments[0].baseOffset == 0 && log.segments[0].endOffset == 36)
            let uid = try await cluster.store.cluster("demo").uid
            #expect(log.segments[0].objectKey.hasPrefix("data/\(uid)/\(cluster.keys[0].topicID)/0/"))
            try await withEngine(StorageConfiguration(nodeID: cluster.leader), store: store, cluster) { engine in
                try await expectRecords(engine, cluster.keys[0], partition: 0, count: 12)
            }
            // The replaced WAL objects stay through the grace period, then go.
            #expect(try await store.listAll(prefix: "wal/").count == 12)
            let later = try await maintenance(cluster, store).runOnce(now: Date().addingTimeInterval(Self.grace + 1))
            #expect(later.deletedObjects == 12)
            #expect(try await store.listAll(prefix: "wal/").isEmpty)
            #expect(try await cluster.store.committedObjectKeys("demo") == [log.segments[0].objectKey])
        }
    }

    @Test func retentionByBytesMovesTheLogStartAndFreesObjects() async throws {
        var config = Self.keepForever
        config.retentionBytes = 1
        try await withCluster(partitions: 1, config: config) { cluster in
            let store = InMemoryObjectStore()
            try await write(5, cluster, store)
            let report = try await maintenance(cluster, store, minSegments: 100).runOnce()
            #expect(report.retainedSegmentsDropped == 4)  // the newest segment stays
            let log = try await cluster.store.partitionLog("demo", cluster.keys[0])
            #expect(log.logStartOffset == 12 && log.nextOffset == 15 && log.segments.count == 1)
            try await withEngine(StorageConfiguration(nodeID: cluster.leader), store: store, cluster) { engine in
                let below = await #expect(throws: StorageError.self) { _ = try await engine.read(cluster.keys[0], offset: 3, maxBytes: 1000) }
                #expect(below?.code == .offsetOutOfRange)
                let records = try await engine.read(cluster.keys[0], offset: 12, maxBytes: 1000)
                #expect(RecordBatchHeader(records.batches, at: records.batches.readerIndex)?.baseOffset == 12)
                #expect(records.logStartOffset == 12)
            }
            let later = try await maintenance(cluster, store, minSegments: 100).runOnce(now: Date().addingTimeInterval(Self.grace + 1))
            #expect(later.deletedObjects == 4)
            #expect(try await store.listAll(prefix: "wal/").count == 1)
        }
    }

    @Test func retentionByTimeDropsOldSegments() async throws {
        var config = TopicConfig()
        config.retentionMs = 60_000
        try await withCluster(partitions: 1, config: config) { cluster in
            let store = InMemoryObjectStore()
            try await write(3, cluster, store)  // records stamped in 2023
            #expect(try await maintenance(cluster, store, minSegments: 100).runOnce().retainedSegmentsDropped == 3)
            let log = try await cluster.store.partitionLog("demo", cluster.keys[0])
            #expect(log.logStartOffset == 9 && log.nextOffset == 9 && log.segments.isEmpty)
        }
    }

    @Test func deleteRecordsMovesTheLogStart() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            try await write(4, cluster, store)
            #expect(try await cluster.store.deleteRecords("demo", cluster.keys[0], before: 7) == 7)
            let log = try await cluster.store.partitionLog("demo", cluster.keys[0])
            #expect(log.logStartOffset == 7 && log.segments.map(\.baseOffset) == [6, 9])
            await #expect(throws: ControlPlaneError.self) { _ = try await cluster.store.deleteRecords("demo", cluster.keys[0], before: 99) }
            #expect(try await cluster.store.deleteRecords("demo", cluster.keys[0], before: 2) == 7)
        }
    }

    /// Issue 11, findings 2 and 3: an uncommitted object goes once its upload intent (recorded
    /// by the index's clock before the upload) is older than the grace period; an object without
    /// an intent of this cluster (another cluster's on the same prefix, or one newer than a
    /// restored database) is never deleted; nothing is listed.
    @Test func uncommittedObjectsAreCollectedByTheirIntentsAndOthersNeverAre() async throws {
        try await withCluster(partitions: 1, config: Self.keepForever) { cluster in
            let store = try LocalDirectoryStore(root: cluster.directory + "/objects")
            try await write(2, cluster, store)
            let committed = try await cluster.store.committedObjectKeys("demo")
            let stray = try #require(try await cluster.store.reserveUploads("demo", .wal, nodeID: 9, count: 1).first)
            let uid = try await cluster.store.cluster("demo").uid
            #expect(stray.hasPrefix("wal/\(uid)/n9/"))
            try await store.put(stray, body: ByteBuffer(string: "uploaded, never committed"))
            let foreign = ["wal/0123456789abcdef/n1/0000000000001-aaaaaaaa.amqs", "wal/n1/0000000000001-00000001-aaaaaaaa.amqs", "data/other/t/0/x.amqs"]
            for key in foreign { try await store.put(key, body: ByteBuffer(string: "not ours")) }
            #expect(try await maintenance(cluster, store).runOnce().deletedUncommitted == 0)  // too young
            let later = try await maintenance(cluster, store).runOnce(now: Date().addingTimeInterval(Self.grace + 1))
            // The stray, and keys the engine reserved and never used (deleting those is a no-op).
            #expect(later.deletedUncommitted >= 1)
            #expect(Set(try await store.listAll(prefix: "wal/").map(\.key)) == committed.union(foreign.filter { $0.hasPrefix("wal/") }))
            #expect(try await store.listAll(prefix: "data/").map(\.key) == ["data/other/t/0/x.amqs"])
            // Its intent is gone: a commit naming it now is refused, whatever the agent's clock says.
            let segment = Segment(baseOffset: 2, endOffset: 3, objectKey: stray, position: 0, length: 10, maxTimestamp: 0)
            let late = CommitRequest(nodeID: cluster.leader, objectKey: stray, objectSize: 10, ranges: [.init(partition: cluster.keys[0], leaderEpoch: cluster.epoch, segment: segment)])
            #expect(try await cluster.store.commit("demo", late).outcomes == [.expired])
        }
    }

    /// A commit is judged by its objects' intents on the index's own clock: none, or one older
    /// than the commit delay, is refused; a young one passes.
    @Test func commitsGoByTheirObjectsIntents() async throws {
        try await withCluster(partitions: 1) { cluster in
            func commit(_ key: String, at offset: Int64) async throws -> [CommitResponse.Outcome] {
                let segment = Segment(baseOffset: offset, endOffset: offset + 1, objectKey: key, position: 0, length: 10, maxTimestamp: 0)
                return try await cluster.store.commit(
                    "demo", CommitRequest(nodeID: cluster.leader, objectKey: key, objectSize: 10, ranges: [.init(partition: cluster.keys[0], leaderEpoch: cluster.epoch, segment: segment)])
                ).outcomes
            }
            #expect(try await commit("wal/never-intended", at: 0) == [.expired])
            let old = try #require(
                try await cluster.store.reserveUploads("demo", .wal, nodeID: cluster.leader, count: 1, now: Date().addingTimeInterval(-CommitRequest.maxCommitDelay - 1)).first
            )
            #expect(try await commit(old, at: 0) == [.expired])
            let young = try #require(try await cluster.store.reserveUploads("demo", .wal, nodeID: cluster.leader, count: 1).first)
            #expect(try await commit(young, at: 0) == [.accepted])
            await #expect(throws: ControlPlaneError.self) { _ = try await cluster.store.reserveUploads("demo", .wal, nodeID: 1, count: 0) }
        }
    }
}
