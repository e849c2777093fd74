import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import AMQStorage
import AMQStreamIndex
import AMQTestSupport
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// The storage engine against a real SQLite partition index and real object stores (local
/// directory; in-memory where faults are injected).
@Suite(.timeLimit(.minutes(3))) struct StorageEngineTests {
    @Test func appendsGetContiguousOffsetsAndReadBackHotAndCold() async throws {
        try await withCluster(partitions: 3) { cluster in
            let store = try LocalDirectoryStore(root: cluster.directory + "/objects")
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(20)
            var results: [Int: [AppendResult]] = [:]
            try await withEngine(configuration, store: store, cluster) { engine in
                for key in cluster.keys { try await engine.becomeLeader(key, epoch: cluster.epoch) }
                results = try await withThrowingTaskGroup(of: (Int, AppendResult).self) { group in
                    for partition in 0..<3 {
                        group.addTask {
                            var last: AppendResult?
                            for index in 0..<20 {
                                last = try await engine.append(cluster.keys[partition], batches: batch(partition: partition, index: index, records: 3))
                            }
                            return (partition, last!)
                        }
                    }
                    return try await group.reduce(into: [:]) { $0[$1.0, default: []].append($1.1) }
                }
                for partition in 0..<3 {
                    #expect(results[partition]?.first?.lastOffset == 59)
                    try await expectRecords(engine, cluster.keys[partition], partition: partition, count: 20)
                }
            }
            // A fresh engine has nothing cached: everything comes from the store through the index.
            try await withEngine(configuration, store: store, cluster) { engine in
                for partition in 0..<3 {
                    #expect(try await engine.bounds(cluster.keys[partition]) == (0, 60))
                    try await expectRecords(engine, cluster.keys[partition], partition: partition, count: 20)
                }
            }
            // Objects in the bucket are what docs/storage-format.md says, and the index points into them.
            let objects = try await store.listAll(prefix: "wal/")
            let uid = try await cluster.store.cluster("demo").uid
            #expect(!objects.isEmpty && objects.allSatisfy { $0.key.hasPrefix("wal/\(uid)/n\(cluster.leader)/") && $0.key.hasSuffix(".amqs") })
            let committed = try await cluster.store.committedObjectKeys("demo")
            #expect(Set(objects.map(\.key)) == committed)
            for object in objects {
                let bytes = try await store.get(object.key)
                let header = try StreamObject.decodeHeader(bytes)
                #expect(header.nodeID == cluster.leader)
                for entry in header.entries {
                    let data = bytes.getSlice(at: entry.position, length: entry.length)!
                    #expect(data.withUnsafeReadableBytes { CRC32C.checksum($0) } == entry.crc)
                    #expect(try RecordBatchHeader.validateBatches(data).first?.baseOffset == entry.baseOffset)
                }
            }
        }
    }

    @Test func zeroLingerCommitsAtOnceAndGroupsConcurrentAppends() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .seconds(3600)  // the topic's linger.ms=0 must win
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch, linger: .zero)
                for index in 0..<5 {
                    let result = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: index, records: 1))
                    #expect(result.baseOffset == Int64(index))
                }
                #expect(await store.count(.put) == 5)
                // While one upload is in flight, the others gather into one buffer.
                await store.setFaults(.init(latency: .milliseconds(50)))
                try await withThrowingTaskGroup { group in
                    for index in 0..<40 {
                        group.addTask { _ = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: index, records: 1)) }
                    }
                    try await group.waitForAll()
                }
                #expect(await store.count(.put) < 5 + 40 / 2, "zero linger did not group concurrent appends")
                #expect(try await engine.bounds(cluster.keys[0]).highWatermark == 45)
            }
        }
    }

    @Test func buffersAreSealedBySize() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .seconds(3600)
            configuration.maxBufferBytes = 10_000
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch)
                try await withThrowingTaskGroup { group in
                    for index in 0..<50 {
                        group.addTask { _ = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: index, records: 1, valueSize: 1000)) }
                        if index % 10 == 9 { try await group.waitForAll() }
                    }
                    try await group.waitForAll()
                }
                #expect(await store.count(.put) >= 5)
            }
        }
    }

    @Test func aMovedLeaderIsFencedAndTheNewOneContinues() async throws {
        try await withCluster(partitions: 1, zones: ["a", "b"]) { cluster in
            let store = InMemoryObjectStore()
            let key = cluster.keys[0]
            var old = StorageConfiguration(nodeID: cluster.leader)
            old.linger = .milliseconds(10)
            try await withEngine(old, store: store, cluster) { first in
                try await first.becomeLeader(key, epoch: cluster.epoch)
                for index in 0..<3 { _ = try await first.append(key, batches: batch(partition: 0, index: index, records: 2)) }
                _ = try await cluster.store.drainNode("demo", id: cluster.leader)
                let moved = try await cluster.store.partitionLog("demo", key)
                #expect(moved.leader != cluster.leader)

                // The old leader does not know yet: its next append is refused at commit.
                let error = await #expect(throws: StorageError.self) { _ = try await first.append(key, batches: batch(partition: 0, index: 3, records: 2)) }
                #expect(error?.code == .notLeader && error?.leader == moved.leader)
                #expect(await first.isLeader(key) == false)
                let again = await #expect(throws: StorageError.self) { _ = try await first.append(key, batches: batch(partition: 0, index: 4, records: 2)) }
                #expect(again?.code == .notLeader)

                var new = StorageConfiguration(nodeID: moved.leader)
                new.linger = .milliseconds(10)
                try await withEngine(new, store: store, cluster) { second in
                    try await second.becomeLeader(key, epoch: moved.leaderEpoch)
                    let result = try await second.append(key, batches: batch(partition: 0, index: 5, records: 2))
                    #expect(result.baseOffset == 6)
                    let read = try await readAll(second, key)
                    #expect(read.map(\.offset) == Array(0..<8))
                }
            }
        }
    }

    /// The same, on an in-memory index and store: the engine needs neither SQLite nor a controller.
    @Test func onAnInMemoryIndexTheOldLeaderIsFencedAndTheNewOneContinues() async throws {
        let key = PartitionKey(topicID: "t", partition: 0)
        let index = InMemoryPartitionIndex([key], leader: 1)
        let store = InMemoryObjectStore()
        var old = StorageConfiguration(nodeID: 1)
        old.linger = .milliseconds(5)
        try await withEngine(old, store: store, index: index) { first in
            try await first.becomeLeader(key, epoch: 1)
            for index in 0..<3 { _ = try await first.append(key, batches: batch(partition: 0, index: index, records: 2)) }
            let epoch = index.moveLeader(key, to: 2)
            let error = await #expect(throws: StorageError.self) { _ = try await first.append(key, batches: batch(partition: 0, index: 3, records: 2)) }
            #expect(error?.code == .notLeader && error?.leader == 2)
            var new = StorageConfiguration(nodeID: 2)
            new.linger = .zero
            try await withEngine(new, store: store, index: index) { second in
                try await second.becomeLeader(key, epoch: epoch)
                #expect(try await second.append(key, batches: batch(partition: 0, index: 3, records: 2)).baseOffset == 6)
                let values = try await readAll(second, key).map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
                #expect(values == (0..<4).flatMap { index in (0..<2).map { "p0-\(index)-\($0)" } })
            }
        }
    }

    /// A leader commits pointers into a router object another agent uploaded, without writing
    /// the bytes again; readers get the batches with the offsets the leader gave them.
    @Test func batchesInARouterObjectAreReadWithTheirAssignedOffsets() async throws {
        let keys = [PartitionKey(topicID: "t", partition: 0), PartitionKey(topicID: "t", partition: 1)]
        let index = InMemoryPartitionIndex(keys, leader: 1)
        let store = InMemoryObjectStore()
        var configuration = StorageConfiguration(nodeID: 1)
        configuration.linger = .milliseconds(5)
        // The proxy's object: two produces for partition 0 and one for partition 1, as sent.
        let sent = [batch(partition: 0, index: 0, records: 2), batch(partition: 0, index: 1, records: 3), batch(partition: 1, index: 0, records: 1)]
        let (object, entries) = StreamObject.encode(
            nodeID: 2, zip([keys[0], keys[0], keys[1]], sent).map { .init(partition: $0, baseOffset: 0, endOffset: 0, maxTimestamp: 0, batches: $1) }
        )
        let key = try #require(try await index.reserveUploads(.router, nodeID: 2, count: 1).first)
        _ = try await store.put(key, body: object, ifAbsent: true)
        try await withEngine(configuration, store: store, index: index) { engine in
            for partition in keys { try await engine.becomeLeader(partition, epoch: 1) }
            _ = try await engine.append(keys[0], batches: batch(partition: 0, index: 9, records: 1))
            var results: [AppendResult] = []
            for (entry, (partition, bytes)) in zip(entries, zip([keys[0], keys[0], keys[1]], sent)) {
                let location = WritePathStateMachine.RemoteLocation(
                    objectKey: key, objectSize: object.readableBytes, position: entry.position, length: entry.length
                )
                let pending = try await engine.stageRemote(partition, at: location, headers: try RecordBatchHeader.validateBatches(bytes))
                results.append(try await pending.result())
            }
            #expect(results.map(\.baseOffset) == [1, 3, 0])
            // A fresh engine reads everything from the store: the router object's batches come
            // back with their assigned offsets.
            try await withEngine(configuration, store: store, index: index) { reader in
                let values = try await readAll(reader, keys[0]).map { "\($0.offset):" + String(decoding: $0.record.value ?? [], as: UTF8.self) }
                #expect(values == ["0:p0-9-0", "1:p0-0-0", "2:p0-0-1", "3:p0-1-0", "4:p0-1-1", "5:p0-1-2"])
                #expect(try await readAll(reader, keys[1]).map(\.offset) == [0])
            }
        }
    }

    @Test func anUnavailableStoreSlowsAppendsDownWithoutLosingThem() async throws {
        try await withCluster(partitions: 2) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            configuration.retryBase = .milliseconds(5)
            configuration.retryCap = .milliseconds(20)
            configuration.maxUncommittedBytes = 64 << 10
            try await withEngine(configuration, store: store, cluster) { engine in
                for key in cluster.keys { try await engine.becomeLeader(key, epoch: cluster.epoch) }
                await store.setFaults(.init(failing: [.put]))
                let appends = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for partition in 0..<2 {
                            group.addTask {
                                for index in 0..<40 {
                                    _ = try await engine.append(cluster.keys[partition], batches: batch(partition: partition, index: index, records: 2, valueSize: 500))
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                // Appends pile up to the bound and wait there: memory stays bounded.
                let piledUp = await eventually {
                    let puts = await store.count(.put)
                    let pending = await engine.pendingUploadBytes
                    return puts >= 5 && pending > 0
                }
                #expect(piledUp)
                #expect(await engine.pendingUploadBytes <= configuration.maxUncommittedBytes + 2_000)
                await store.setFaults(.init())
                try await appends.value
                #expect(await engine.pendingUploadBytes == 0)
                for partition in 0..<2 {
                    let read = try await readAll(engine, cluster.keys[partition])
                    #expect(read.count == 80 && read.map(\.offset) == Array(0..<80))
                }
            }
        }
    }

    @Test func appendsFailClearlyWhenRoomNeverComes() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            configuration.retryBase = .milliseconds(5)
            configuration.maxUncommittedBytes = 1000
            configuration.appendTimeout = .milliseconds(300)
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch)
                await store.setFaults(.init(failing: [.put]))
                let first = Task { try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: 0, records: 1, valueSize: 900)) }
                #expect(await eventually { await engine.pendingUploadBytes > 0 })
                let error = await #expect(throws: StorageError.self) { _ = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: 1, records: 1, valueSize: 900)) }
                #expect(error?.code == .backpressureTimeout)
                await store.setFaults(.init())
                #expect(try await first.value.baseOffset == 0)
            }
        }
    }

    @Test func corruptBatchesAndNonLeadersAreRefused() async throws {
        try await withCluster(partitions: 2) { cluster in
            try await withEngine(StorageConfiguration(nodeID: cluster.leader), store: InMemoryObjectStore(), cluster) { engine in
                try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch)
                var bad = batch(partition: 0, index: 0, records: 2)
                bad.setInteger(UInt8(0xFF), at: bad.writerIndex - 1)
                let corrupt = await #expect(throws: StorageError.self) { _ = try await engine.append(cluster.keys[0], batches: bad) }
                #expect(corrupt?.code == .corrupt)
                let notLeader = await #expect(throws: StorageError.self) { _ = try await engine.append(cluster.keys[1], batches: batch(partition: 1, index: 0, records: 1)) }
                #expect(notLeader?.code == .notLeader)
                let outOfRange = await #expect(throws: StorageError.self) { _ = try await engine.read(cluster.keys[0], offset: 5, maxBytes: 1000) }
                #expect(outOfRange?.code == .offsetOutOfRange)
            }
        }
    }

    @Test func waitForDataWakesOnCommitOrAtItsDeadline() async throws {
        try await withCluster(partitions: 1) { cluster in
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            try await withEngine(configuration, store: InMemoryObjectStore(), cluster) { engine in
                let key = cluster.keys[0]
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                let start = ContinuousClock.now
                try await engine.waitForData(key, after: 0, until: .now + .milliseconds(100))
                #expect(ContinuousClock.now - start >= .milliseconds(100))
                async let woke: Void = engine.waitForData(key, after: 0, until: .now + .seconds(60))
                _ = try await engine.append(key, batches: batch(partition: 0, index: 0, records: 1))
                try await woke
                #expect(try await engine.bounds(key).highWatermark == 1)
            }
        }
    }

    /// Every wait ends on shutdown and when its client is gone (issue 11: an agent spun after
    /// SIGTERM on a fetch that asked to wait 2³¹−1 ms, its wait returning at once forever).
    @Test func waitForDataEndsOnShutdownAndOnCancellation() async throws {
        try await withCluster(partitions: 1) { cluster in
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            try await withEngine(configuration, store: InMemoryObjectStore(), cluster) { engine in
                let key = cluster.keys[0]
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                let cancelled = Task { try await engine.waitForData(key, after: 0, until: .now + .seconds(3600)) }
                cancelled.cancel()
                await #expect(throws: CancellationError.self) { try await cancelled.value }
                let parked = Task { try await engine.waitForData(key, after: 0, until: .now + .seconds(3600)) }
                await engine.shutdown()
                let stopping = await #expect(throws: StorageError.self) { try await parked.value }
                #expect(stopping?.code == .shuttingDown)
                // A wait begun after the stop does not return as if data or the deadline had come.
                let late = await #expect(throws: StorageError.self) { try await engine.waitForData(key, after: 0, until: .now + .seconds(3600)) }
                #expect(late?.code == .shuttingDown)
            }
        }
    }

    @Test func concurrentColdReadsOfOneRangeCostOneGet() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(cluster.keys[0], epoch: cluster.epoch)
                _ = try await engine.append(cluster.keys[0], batches: batch(partition: 0, index: 0, records: 10))
            }
            configuration.logCacheBytes = 0
            try await withEngine(configuration, store: store, cluster) { engine in
                await store.setFaults(.init(latency: .milliseconds(50)))
                try await withThrowingTaskGroup { group in
                    for _ in 0..<10 { group.addTask { _ = try await engine.read(cluster.keys[0], offset: 3, maxBytes: 1 << 20) } }
                    try await group.waitForAll()
                }
                #expect(await store.count(.get) == 1)
            }
        }
    }
}

// MARK: - Fixture

struct ClusterFixture: Sendable {
    let store: TopologyStore
    let directory: String
    let keys: [PartitionKey]
    let leader: Int
    let epoch: Int
    var index: ClusterStreamIndex { ClusterStreamIndex(store: store, cluster: "demo") }
}

/// A SQLite control plane with cluster `demo` of one node per zone and topic `t` whose
/// partitions all have the same leader.
func withCluster(partitions: Int, zones: [String] = ["a"], config: TopicConfig = TopicConfig(), _ body: (ClusterFixture) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amq-storage-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = TopologyStore(database: try ControlPlaneDatabase(path: directory + "/amq.db"), actor: "test")
    try await store.createCluster(.init(name: "demo", zones: zones, agentsPerZone: 1, objectStoreURL: "file://\(directory)/objects", dataDir: directory, local: true))
    // Drain every node but the first so one node leads every partition.
    for node in stride(from: 2, through: zones.count, by: 1) { _ = try await store.drainNode("demo", id: node) }
    let topic = try await store.createTopic("demo", name: "t", partitions: partitions, config: config)
    for node in stride(from: 2, through: zones.count, by: 1) { _ = try await store.activateNode("demo", id: node) }
    let keys = (0..<partitions).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
    try await body(ClusterFixture(store: store, directory: directory, keys: keys, leader: topic.partitions[0].leader, epoch: topic.partitions[0].leaderEpoch))
}

/// Runs an engine for the body's length, then shuts it down and waits for it.
func withEngine(_ configuration: StorageConfiguration, store: any ObjectStore, _ cluster: ClusterFixture, _ body: (StorageEngine) async throws -> Void) async throws {
    try await withEngine(configuration, store: store, index: cluster.index, body)
}

@discardableResult
func withEngine<T: Sendable>(
    _ configuration: StorageConfiguration, store: any ObjectStore, index: any PartitionIndex, _ body: (StorageEngine) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test.storage")
    logger.logLevel = .warning
    let engine = StorageEngine(configuration: configuration, store: store, index: index, logger: logger)
    return try await withThrowingTaskGroup { group in
        group.addTask { await engine.run() }
        let value: T
        do {
            value = try await body(engine)
        } catch {
            await engine.shutdown()
            throw error
        }
        await engine.shutdown()
        try await group.waitForAll()
        return value
    }
}

/// A batch whose records say where they belong: value "p{partition}-{index}-{record}".
func batch(partition: Int, index: Int, records: Int, valueSize: Int = 0) -> ByteBuffer {
    RecordBatchBuilder.batch(
        (0..<records).map { record in
            let value = "p\(partition)-\(index)-\(record)" + String(repeating: "x", count: valueSize)
            return Record(key: Array("k\(index)".utf8), value: Array(value.utf8), timestamp: 1_700_000_000_000 + Int64(index))
        }
    )
}

/// Every record from offset 0 to the high watermark, reading as a consumer does.
func readAll(_ engine: StorageEngine, _ key: PartitionKey, maxBytes: Int = 300) async throws -> [(offset: Int64, record: Record)] {
    var offset: Int64 = 0
    var records: [(offset: Int64, record: Record)] = []
    let end = try await engine.bounds(key).highWatermark
    while offset < end {
        let result = try await engine.read(key, offset: offset, maxBytes: maxBytes)
        var index = result.batches.readerIndex
        #expect(result.batches.readableBytes > 0, "empty read at \(offset) below the high watermark \(end)")
        if result.batches.readableBytes == 0 { break }
        while let header = RecordBatchHeader(result.batches, at: index) {
            records += try RecordBatchBuilder.records(in: result.batches, at: index).filter { $0.offset >= offset }
            index += header.totalSize
        }
        offset = records.last.map { $0.offset + 1 } ?? end
    }
    return records
}

func expectRecords(_ engine: StorageEngine, _ key: PartitionKey, partition: Int, count: Int) async throws {
    let records = try await readAll(engine, key)
    #expect(records.map(\.offset) == Array(0..<Int64(count * 3)))
    let values = records.map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
    let expected = (0..<count).flatMap { index in (0..<3).map { "p\(partition)-\(index)-\($0)" } }
    #expect(values == expected)
}

/// Issue 11, finding 7: one WAL buffer touching thousands of partitions commits over the real
/// control API (whose bodies stop at 1 MiB), and a commit the index refuses as malformed fails
/// its appends at once instead of holding every later commit behind endless retries.
@Suite(.serialized, .timeLimit(.minutes(3))) struct WideCommitTests {
    @Test func aBufferTouchingThousandsOfPartitionsCommits() async throws {
        try await TestController.with(zones: ["a"]) { controller in
            let count = 4_500
            let topic = try await controller.store.createTopic("demo", name: "wide", partitions: count, config: TopicConfig())
            let keys = (0..<count).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
            var configuration = StorageConfiguration(nodeID: topic.partitions[0].leader)
            configuration.linger = .seconds(2)
            let acknowledged = try await withEngine(configuration, store: InMemoryObjectStore(), index: controller.client) { engine in
                for key in keys { try await engine.becomeLeader(key, epoch: topic.partitions[key.partition].leaderEpoch) }
                var pending: [PendingAppend] = []
                for key in keys { pending.append(try await engine.stage(key, batches: batch(partition: key.partition, index: 0, records: 1))) }
                return await results(of: pending, within: .seconds(60))
            }
            #expect(acknowledged == count, "\(acknowledged) of \(count) appends acknowledged")
            #expect(try await controller.store.partitionLog("demo", keys[count - 1]).nextOffset == 1)
        }
    }

    @Test func aCommitTheIndexRefusesFailsItsAppendsAtOnce() async throws {
        let key = PartitionKey(topicID: "t", partition: 0)
        let index = FaultyIndex(InMemoryPartitionIndex([key], leader: 1), .refusing)
        var configuration = StorageConfiguration(nodeID: 1)
        configuration.linger = .milliseconds(5)
        try await withEngine(configuration, store: InMemoryObjectStore(), index: index) { engine in
            try await engine.becomeLeader(key, epoch: 1)
            let refused = try await engine.stage(key, batches: batch(partition: 0, index: 0, records: 1))
            let error = await #expect(throws: StorageError.self) { _ = try await refused.result() }
            #expect(error?.message.contains("refused") == true, "\(String(describing: error))")
            // Its leadership ended (the offsets after it are void); leading again, as the agent's
            // next heartbeat does, the partition continues from the index's end, not held behind it.
            #expect(await engine.isLeader(key) == false)
            index.fault.withLock { $0 = .none }
            try await engine.becomeLeader(key, epoch: 1)
            #expect(try await engine.append(key, batches: batch(partition: 0, index: 1, records: 1)).baseOffset == 0)
        }
    }
}

/// How many of `appends` succeed before `timeout`.
private func results(of appends: [PendingAppend], within timeout: Duration) async -> Int {
    await withTaskGroup(of: Int?.self) { group in
        group.addTask {
            var succeeded = 0
            for append in appends { if (try? await append.result()) != nil { succeeded += 1 } }
            return succeeded
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        return first ?? -1
    }
}


/// Issue 11, finding 8: with the controller away, uploaded buffers cannot commit; memory stays
/// under `maxUncommittedBytes` (producers get backpressure timeouts instead), nothing
/// acknowledged is lost, and writes resume within seconds of its return.
@Suite(.timeLimit(.minutes(2))) struct ControllerOutageTests {
    @Test func uncommittedBytesStayBoundedAndWritesResume() async throws {
        let key = PartitionKey(topicID: "t", partition: 0)
        let index = FaultyIndex(InMemoryPartitionIndex([key], leader: 1), .none)
        var configuration = StorageConfiguration(nodeID: 1)
        configuration.linger = .milliseconds(5)
        configuration.maxBufferBytes = 16 << 10
        configuration.maxUncommittedBytes = 128 << 10
        configuration.appendTimeout = .milliseconds(300)
        let bound = configuration.maxUncommittedBytes
        try await withEngine(configuration, store: InMemoryObjectStore(), index: index) { engine in
            try await engine.becomeLeader(key, epoch: 1)
            index.fault.withLock { $0 = .unreachable }
            // A producer that never waits for answers (as pipelined Kafka producers do): it takes
            // appends until one has to wait for room, which, with nothing able to commit, times out.
            var sent: [(String, PendingAppend)] = []
            var refused: StorageError?
            for number in 0..<1_000 {
                do {
                    sent.append(("p0-\(number)-0", try await engine.stage(key, batches: batch(partition: 0, index: number, records: 1, valueSize: 4_000))))
                } catch let error as StorageError {
                    refused = error
                    break
                }
            }
            #expect(refused?.code == .backpressureTimeout, "\(String(describing: refused))")
            let held = await engine.statistics.uncommittedBytes
            #expect(held <= bound && held > bound / 2, "\(held) uncommitted bytes against the bound \(bound)")
            // The controller is back: everything taken commits, and writes go on.
            index.fault.withLock { $0 = .none }
            var acked: [String] = []
            for (value, pending) in sent where (try? await pending.result()) != nil { acked.append(value) }
            #expect(acked.count == sent.count, "\(sent.count - acked.count) appends taken before the outage ended were not acknowledged")
            let resumed = try await engine.append(key, batches: batch(partition: 9, index: 0, records: 1))
            #expect(resumed.baseOffset == Int64(sent.count))
            let stored = Set(try await readAll(engine, key, maxBytes: 1 << 20).compactMap { String(bytes: $0.record.value ?? [], encoding: .utf8) }.map { String($0.prefix(while: { $0 != "x" })) })
            let missing = acked.filter { !stored.contains($0) }
            #expect(missing.isEmpty, "\(missing.count) of \(acked.count) acknowledged appends missing")
        }
    }
}


/// Issue 11, finding 12: a leader's in-memory list of segments stays bounded however long it
/// leads; reads of older offsets page them from the index.
@Suite(.timeLimit(.minutes(2))) struct KnownSegmentsTests {
    @Test func theSegmentListStaysBoundedAndOldOffsetsStillRead() async throws {
        let key = PartitionKey(topicID: "t", partition: 0)
        var configuration = StorageConfiguration(nodeID: 1)
        configuration.linger = .zero
        configuration.maxKnownSegments = 50
        configuration.logCacheBytes = 0
        try await withEngine(configuration, store: InMemoryObjectStore(), index: InMemoryPartitionIndex([key], leader: 1)) { engine in
            try await engine.becomeLeader(key, epoch: 1)
            for index in 0..<200 { _ = try await engine.append(key, batches: batch(partition: 0, index: index, records: 1)) }
            #expect(await engine.statistics.rangesCommitted == 200)
            #expect(await engine.statistics.knownSegments <= 50)
            let records = try await readAll(engine, key, maxBytes: 4_096)
            #expect(records.map(\.offset) == Array(0..<200))
            #expect(await engine.statistics.knownSegments <= 50)
        }
    }
}

/// An in-memory index whose commits can be made to fail: refused as a malformed request is
/// (HTTP 4xx), or unreachable (with its reservations) as a stopped controller is.
private final class FaultyIndex: PartitionIndex {
    enum Fault { case none, refusing, unreachable }
    struct Unreachable: Error {}
    let inner: InMemoryPartitionIndex
    let fault: Mutex<Fault>
    init(_ inner: InMemoryPartitionIndex, _ fault: Fault) {
        self.inner = inner
        self.fault = Mutex(fault)
    }
    func commit(_ request: CommitRequest) async throws -> CommitResponse {
        switch fault.withLock({ $0 }) {
        case .none: return try await inner.commit(request)
        case .refusing: throw StreamIndexError(.refused, "the index refused the commit: malformed")
        case .unreachable: throw Unreachable()
        }
    }
    func partitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState {
        try await inner.partitionLog(partition, from: from, limit: limit)
    }
    func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        try await inner.deleteRecords(partition, before: offset)
    }
    func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String] {
        if fault.withLock({ $0 }) == .unreachable { throw Unreachable() }
        return try await inner.reserveUploads(kind, nodeID: nodeID, count: count)
    }
}
