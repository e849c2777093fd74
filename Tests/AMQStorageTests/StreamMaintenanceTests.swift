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
            #expect(log.segments[0].objectKey.hasPrefix("data/\(cluster.keys[0].topicID)/0/"))
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

    @Test func uncommittedObjectsAreCollectedAfterTheGracePeriod() async throws {
        try await withCluster(partitions: 1, config: Self.keepForever) { cluster in
            let store = try LocalDirectoryStore(root: cluster.directory + "/objects")
            try await write(2, cluster, store)
            let committed = try await cluster.store.committedObjectKeys("demo")
            let stray = StreamObject.walKey(nodeID: 9, sequence: 1)
            try await store.put(stray, body: ByteBuffer(string: "uploaded, never committed"))
            #expect(try await maintenance(cluster, store).runOnce().deletedUncommitted == 0)  // too young
            let later = try await maintenance(cluster, store).runOnce(now: Date().addingTimeInterval(Self.grace + 1))
            #expect(later.deletedUncommitted == 1)
            #expect(Set(try await store.listAll(prefix: "wal/").map(\.key)) == committed)
        }
    }

    @Test func staleCommitsAreRefused() async throws {
        try await withCluster(partitions: 1) { cluster in
            let segment = Segment(baseOffset: 0, endOffset: 1, objectKey: "wal/old", position: 0, length: 10, maxTimestamp: 0)
            let request = CommitRequest(
                nodeID: cluster.leader, objectKey: "wal/old", objectSize: 10, uploadedAt: Date().addingTimeInterval(-CommitRequest.maxCommitDelay - 1),
                ranges: [.init(partition: cluster.keys[0], leaderEpoch: cluster.epoch, segment: segment)]
            )
            let outcomes = try await cluster.store.commit("demo", request).outcomes
            #expect(outcomes == [.expired])
        }
    }
}
