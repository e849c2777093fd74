import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import AMQStorage
import NIOCore
import Testing

/// Idempotent producers (KIP-98): the producer state table as a pure value, and the engine using
/// it — retries answered with their original offsets, gaps refused, and the state rebuilt from
/// the log when leadership moves to a fresh engine.
@Suite(.timeLimit(.minutes(2))) struct IdempotenceTests {
    typealias Batch = ProducerStateTable.BatchMetadata

    @Test func theTableAcceptsTheNextSequenceAndRecognisesRetries() {
        var table = ProducerStateTable()
        #expect(table.check(producerID: 7, epoch: 0, firstSequence: 42, lastSequence: 44) == .success(.append))
        table.record(producerID: 7, epoch: 0, Batch(firstSequence: 0, lastSequence: 2, baseOffset: 10, lastOffset: 12))
        #expect(table.check(producerID: 7, epoch: 0, firstSequence: 3, lastSequence: 5) == .success(.append))
        #expect(table.check(producerID: 7, epoch: 0, firstSequence: 0, lastSequence: 2) == .success(.duplicate(Batch(firstSequence: 0, lastSequence: 2, baseOffset: 10, lastOffset: 12))))
        #expect(table.check(producerID: 7, epoch: 0, firstSequence: 5, lastSequence: 6) == .failure(.outOfOrderSequence(expected: 3, received: 5)))
        #expect(table.check(producerID: 7, epoch: 1, firstSequence: 3, lastSequence: 3) == .failure(.outOfOrderSequence(expected: 0, received: 3)))
        #expect(table.check(producerID: 7, epoch: 1, firstSequence: 0, lastSequence: 3) == .success(.append))
        table.record(producerID: 7, epoch: 1, Batch(firstSequence: 0, lastSequence: 0, baseOffset: 13, lastOffset: 13))
        #expect(table.check(producerID: 7, epoch: 0, firstSequence: 3, lastSequence: 3) == .failure(.staleEpoch(current: 1, received: 0)))
    }

    @Test func onlyTheLastFiveBatchesAreRemembered() {
        var table = ProducerStateTable()
        for index in 0..<7 {
            table.record(producerID: 1, epoch: 0, Batch(firstSequence: Int32(index), lastSequence: Int32(index), baseOffset: Int64(index), lastOffset: Int64(index)))
        }
        #expect(table.check(producerID: 1, epoch: 0, firstSequence: 2, lastSequence: 2).isDuplicate)
        #expect(!table.check(producerID: 1, epoch: 0, firstSequence: 1, lastSequence: 1).isDuplicate)
    }

    @Test func sequencesWrapAtInt32Max() {
        #expect(ProducerStateTable.next(.max) == 0)
        #expect(ProducerStateTable.last(first: .max - 1, count: 3) == 0)
        var table = ProducerStateTable()
        table.record(producerID: 1, epoch: 0, Batch(firstSequence: .max - 1, lastSequence: .max, baseOffset: 0, lastOffset: 1))
        #expect(table.check(producerID: 1, epoch: 0, firstSequence: 0, lastSequence: 4) == .success(.append))
    }

    @Test func theEngineAnswersRetriesWithTheirOffsetsAndRefusesGaps() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            let key = cluster.keys[0]
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                _ = try await engine.append(key, batches: batch(partition: 0, index: 0, records: 2))  // a non-idempotent batch first
                let first = try await engine.append(key, batches: idempotent(producer: 9, sequence: 0, records: 3))
                #expect(first == AppendResult(baseOffset: 2, lastOffset: 4))
                // The same batch again (a retry after a lost response): same offsets, nothing stored.
                #expect(try await engine.append(key, batches: idempotent(producer: 9, sequence: 0, records: 3)) == first)
                // Staged twice before the first commits: both share the one append.
                let staged = try await engine.stage(key, batches: idempotent(producer: 9, sequence: 3, records: 1))
                let retry = try await engine.stage(key, batches: idempotent(producer: 9, sequence: 3, records: 1))
                #expect(try await staged.result() == AppendResult(baseOffset: 5, lastOffset: 5))
                #expect(try await retry.result() == AppendResult(baseOffset: 5, lastOffset: 5))
                await #expect(throws: StorageError.self) {
                    _ = try await engine.append(key, batches: idempotent(producer: 9, sequence: 9, records: 1))
                }
                #expect(try await engine.bounds(key).highWatermark == 6)
            }
            // A new leader (a restarted agent) rebuilds the producer state from the log.
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                #expect(try await engine.append(key, batches: idempotent(producer: 9, sequence: 3, records: 1)) == AppendResult(baseOffset: 5, lastOffset: 5))
                do {
                    _ = try await engine.append(key, batches: idempotent(producer: 9, sequence: 5, records: 1))
                    Issue.record("a gap in sequences was accepted after the move")
                } catch let error as StorageError {
                    #expect(error.code == .outOfOrderSequence)
                }
                #expect(try await engine.append(key, batches: idempotent(producer: 9, sequence: 4, records: 1)) == AppendResult(baseOffset: 6, lastOffset: 6))
            }
        }
    }

    @Test func aWaiterThatGivesUpDoesNotStopTheAppend() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            let key = cluster.keys[0]
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                // A slow store: the upload takes a while.
                await store.setFaults(.init(latency: .seconds(2)))
                let pending = try await engine.stage(key, batches: batch(partition: 0, index: 0, records: 1))
                let impatient = Task { try await pending.result() }
                impatient.cancel()
                await #expect(throws: CancellationError.self) { try await impatient.value }
                // Someone who waits still gets the offsets; the append was not abandoned.
                #expect(try await pending.result() == AppendResult(baseOffset: 0, lastOffset: 0))
                await store.setFaults(.init())
            }
        }
    }

    @Test func offsetsAreFoundByTimestamp() async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(5)
            let key = cluster.keys[0]
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                for index in 0..<4 {
                    let records = (0..<3).map { Record(value: Array("v\(index)-\($0)".utf8), timestamp: Int64(1000 * index + $0)) }
                    _ = try await engine.append(key, batches: RecordBatchBuilder.batch(records))
                }
                #expect(try await engine.offset(forTimestamp: 0, in: key)?.offset == 0)
                #expect(try await engine.offset(forTimestamp: 2001, in: key)?.offset == 7)
                #expect(try await engine.offset(forTimestamp: 2500, in: key)?.offset == 9)
                #expect(try await engine.offset(forTimestamp: 9999, in: key) == nil)
                let top = try await engine.offsetOfMaxTimestamp(in: key)
                #expect(top?.offset == 11 && top?.timestamp == 3002)
            }
        }
    }

    func idempotent(producer: Int64, sequence: Int32, records: Int) -> ByteBuffer {
        RecordBatchBuilder.batch(
            (0..<records).map { Record(value: Array("s\(Int(sequence) + $0)".utf8), timestamp: 1_700_000_000_000) },
            producerID: producer, producerEpoch: 0, baseSequence: sequence
        )
    }
}

extension Result<ProducerStateTable.Decision, ProducerStateTable.Rejection> {
    var isDuplicate: Bool {
        if case .success(.duplicate) = self { return true }
        return false
    }
}
