import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import AMQStorage
import AMQTestSupport
import NIOCore
import Testing

/// Reading a partition page by page, as a consumer does, returns every offset exactly once for any
/// page size: from the log cache (hot) and from the object store through the index (cold), with
/// batches of uneven sizes spread over many segments. (A page cut short inside one cached range or
/// segment once went on with the next one, silently skipping the rest.)
@Suite(.timeLimit(.minutes(2))) struct ReadPagingTests {
    @Test(arguments: [90, 700, 3_000, 20_000])
    func everyOffsetOnceForAnyPageSize(maxBytes: Int) async throws {
        try await withCluster(partitions: 1) { cluster in
            let store = InMemoryObjectStore()
            var configuration = StorageConfiguration(nodeID: cluster.leader)
            configuration.linger = .milliseconds(2)
            let key = cluster.keys[0]
            var generator = SeededGenerator(seed: UInt64(maxBytes))
            var expected = 0
            try await withEngine(configuration, store: store, cluster) { engine in
                try await engine.becomeLeader(key, epoch: cluster.epoch)
                // Concurrent appends gather several batches into one segment; sequential ones do not.
                for round in 0..<12 {
                    let sizes = (0..<Int.random(in: 1...6, using: &generator)).map { _ in (Int.random(in: 1...4, using: &generator), Int.random(in: 0...900, using: &generator)) }
                    expected += sizes.map(\.0).reduce(0, +)
                    try await withThrowingTaskGroup { group in
                        for (index, (records, valueSize)) in sizes.enumerated() {
                            group.addTask { _ = try await engine.append(key, batches: batch(partition: round, index: index, records: records, valueSize: valueSize)) }
                        }
                        try await group.waitForAll()
                    }
                }
                let hot = try await readAll(engine, key, maxBytes: maxBytes)
                #expect(hot.map(\.offset) == Array(0..<Int64(expected)))
            }
            try await withEngine(configuration, store: store, cluster) { engine in
                let cold = try await readAll(engine, key, maxBytes: maxBytes)
                #expect(cold.map(\.offset) == Array(0..<Int64(expected)))
            }
        }
    }
}
