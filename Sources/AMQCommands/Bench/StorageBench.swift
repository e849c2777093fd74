import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import AMQStorage
import AMQTraffic
import AMQStreamIndex
import ArgumentParser
import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure amq on this machine.",
        discussion: "Example:\n  amq bench storage --object-store file:///tmp/amq-bench",
        subcommands: [StorageBench.self]
    )
}

/// Appends and reads through a real storage engine, with commits through a real controller on
/// 127.0.0.1, and prints each figure beside the limit of the same store measured in the same run.
struct StorageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Benchmark the storage engine: append throughput and latency, PUTs per MB, cold and warm reads.",
        discussion: """
            Limits measured in the same run: for a file:// store, sequential writes of the same bytes \
            with fsync to the same directory; for an s3:// store, a bare PUT loop of 8 MiB objects to \
            the same server. Figures are printed as a Markdown table (and appended to --output).

            Example:
              amq bench storage --object-store file:///tmp/amq-bench --megabytes 256
              amq bench storage --object-store "s3://bench?endpoint=http://127.0.0.1:8333" --output docs/benchmarks.md
            """
    )

    @Option(help: "Object store URL; a fresh prefix is used under it.")
    var objectStore: String

    @Option(help: "Megabytes appended per batch size.")
    var megabytes = 128

    @Option(help: "Batch sizes in bytes, comma-separated.")
    var batchSizes = "1024,65536"

    @Option(help: "Partitions written concurrently.")
    var partitions = 8

    @Option(help: "Megabytes of appends in flight at once (as a producer's many in-flight batches).")
    var inFlightMegabytes = 32

    @Option(help: "Linger in milliseconds.")
    var lingerMs = 250

    @Option(help: "Objects in the many-objects read test.")
    var manyObjects = 2000

    @Option(help: "Append the results as Markdown to this file.")
    var output: String?

    func run() async throws {
        var logger = Logger(label: "amq.bench")
        logger.logLevel = .critical  // the figures are the output; a failure still throws
        let sizes = batchSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 128 }) else { throw ValidationError("--batch-sizes needs sizes of at least 128 bytes, like 1024,65536") }
        let runID = UUID().uuidString.prefix(8).lowercased()
        let url = try ObjectStoreURL(objectStore)
        let prefixed: ObjectStoreURL
        switch url {
        case .local(let path): prefixed = .local(path: path + "/bench-\(runID)")
        case .s3(var configuration):
            configuration.prefix += "bench-\(runID)/"
            prefixed = .s3(configuration)
        case .memory: prefixed = url
        }
        let store = try prefixed.makeStore(logger: logger)
        if case .s3 = prefixed, let s3 = store as? S3ObjectStore { try await s3.createBucketIfNeeded() }
        try await store.checkUsable()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amq-bench-\(runID)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try ControlPlaneDatabase(path: directory + "/amq.db")
        let topology = TopologyStore(database: database, actor: "bench")
        try await topology.createCluster(.init(name: "bench", zones: ["a"], agentsPerZone: 1, objectStoreURL: objectStore, dataDir: directory, local: true))
        var report = BenchReport(store: store.description, machine: BenchReport.machine())

        try await withBenchController(topology: topology, database: database, logger: logger) { client in
            report.limit = try await measureLimit(prefixed, store: store, bytes: min(megabytes, 256) << 20)
            for size in sizes {
                report.appends.append(try await measureAppends(topology, store: store, client: client, batchSize: size, logger: logger))
            }
            report.reads = try await measureReads(topology, store: store, client: client, logger: logger)
        }
        let markdown = report.markdown(limitKind: prefixed.isLocal ? "sequential write + fsync" : "bare PUT loop (8 MiB, 4 in flight)")
        Output.line(markdown)
        if let output {
            let existing = (try? String(contentsOfFile: output, encoding: .utf8)) ?? "# Benchmarks\n"
            try (existing + "\n" + markdown + "\n").write(toFile: output, atomically: true, encoding: .utf8)
        }
    }

    // MARK: Measurements

    func measureAppends(_ topology: TopologyStore, store: any ObjectStore, client: ControlClient, batchSize: Int, logger: Logger) async throws -> AppendFigures {
        var config = TopicConfig()
        config.lingerMs = lingerMs
        let topic = try await topology.createTopic("bench", name: "append-\(batchSize)", partitions: partitions, config: config)
        let keys = (0..<partitions).map { PartitionKey(topicID: topic.topic.id, partition: $0) }
        var configuration = StorageConfiguration(nodeID: 1)
        configuration.linger = .milliseconds(lingerMs)
        let counting = CountingStore(store)
        let engine = StorageEngine(configuration: configuration, store: counting, index: client, logger: logger)
        let batch = Self.batch(size: batchSize)
        let total = (megabytes << 20) / batchSize
        let perPartition = max(total / partitions, 1)
        // Enough appends in flight to keep the pipeline full: at least a linger's worth of data.
        let lanes = min(max((inFlightMegabytes << 20) / batchSize / partitions, 1), 4096)
        var latencies: [Duration] = []
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: [Duration].self) { group in
            group.addTask {
                await engine.run()
                return []
            }
            for key in keys { try await engine.becomeLeader(key, epoch: 0, linger: .milliseconds(lingerMs)) }
            for key in keys {
                for lane in 0..<lanes {
                    group.addTask {
                        var mine: [Duration] = []
                        for _ in stride(from: lane, to: perPartition, by: lanes) {
                            let start = ContinuousClock.now
                            _ = try await engine.append(key, batches: batch)
                            mine.append(ContinuousClock.now - start)
                        }
                        return mine
                    }
                }
            }
            var finished = 0
            while let result = try await group.next() {
                latencies += result
                finished += 1
                if finished == keys.count * lanes { await engine.shutdown() }
            }
        }
        let elapsed = ContinuousClock.now - started
        let bytes = latencies.count * batchSize
        let puts = await counting.puts
        return AppendFigures(
            batchSize: batchSize, bytes: bytes, seconds: elapsed.seconds, p50: latencies.percentile(0.50), p99: latencies.percentile(0.99),
            puts: puts, putP99: await counting.putLatencies.percentile(0.99), linger: Double(lingerMs) / 1000
        )
    }

    func measureReads(_ topology: TopologyStore, store: any ObjectStore, client: ControlClient, logger: Logger) async throws -> [ReadFigures] {
        var figures: [ReadFigures] = []
        for (label, objects, batchSize) in [("short partition (few objects)", 8, 1 << 20), ("long partition (\(manyObjects) objects)", manyObjects, 16 << 10)] {
            var config = TopicConfig()
            config.lingerMs = 0
            let topic = try await topology.createTopic("bench", name: "read-\(objects)", partitions: 1, config: config)
            let key = PartitionKey(topicID: topic.topic.id, partition: 0)
            var configuration = StorageConfiguration(nodeID: 1)
            configuration.linger = .zero
            let writer = StorageEngine(configuration: configuration, store: store, index: client, logger: logger)
            let batch = Self.batch(size: batchSize)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await writer.run() }
                try await writer.becomeLeader(key, epoch: 0, linger: .zero)
                for _ in 0..<objects { _ = try await writer.append(key, batches: batch) }  // one at a time: one object each
                await writer.shutdown()
            }
            // A fresh engine: nothing cached, every byte comes from the store.
            var readConfiguration = StorageConfiguration(nodeID: 2)
            readConfiguration.logCacheBytes = 0
            let reader = StorageEngine(configuration: readConfiguration, store: store, index: client, logger: logger)
            let cold = try await Self.readAll(reader, key)
            let warm = try await Self.readAll(reader, key)
            figures.append(ReadFigures(label: label, bytes: cold.bytes, coldSeconds: cold.seconds, warmSeconds: warm.seconds))
        }
        return figures
    }

    static func readAll(_ engine: StorageEngine, _ key: PartitionKey) async throws -> (bytes: Int, seconds: Double) {
        let end = try await engine.bounds(key).highWatermark
        var offset: Int64 = 0
        var bytes = 0
        let start = ContinuousClock.now
        while offset < end {
            let result = try await engine.read(key, offset: offset, maxBytes: 4 << 20)
            var index = result.batches.readerIndex
            while let header = RecordBatchHeader(result.batches, at: index) {
                offset = header.lastOffset + 1
                index += header.totalSize
            }
            bytes += result.batches.readableBytes
        }
        return (bytes, (ContinuousClock.now - start).seconds)
    }

    /// The store's own speed on the same bytes: fsynced sequential writes for a directory, a bare
    /// PUT loop for S3.
    func measureLimit(_ url: ObjectStoreURL, store: any ObjectStore, bytes: Int) async throws -> LimitFigures {
        let chunk = ByteBuffer(repeating: 0x61, count: 8 << 20)
        let count = max(bytes / chunk.readableBytes, 4)
        let start = ContinuousClock.now
        var latencies: [Duration] = []
        if case .local(let path) = url {
            let directory = path + "/limit"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for index in 0..<count {
                let begin = ContinuousClock.now
                let fd = open("\(directory)/\(index)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                chunk.withUnsafeReadableBytes { _ = write(fd, $0.baseAddress!, $0.count) }
                fsync(fd)
                close(fd)
                latencies.append(ContinuousClock.now - begin)
            }
            try? FileManager.default.removeItem(atPath: directory)
        } else {
            latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        var mine: [Duration] = []
                        for index in stride(from: lane, to: count, by: 4) {
                            let begin = ContinuousClock.now
                            try await store.put("limit/\(index)", body: chunk)
                            mine.append(ContinuousClock.now - begin)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            try await store.delete((0..<count).map { "limit/\($0)" })
        }
        let seconds = (ContinuousClock.now - start).seconds
        return LimitFigures(bytes: count * chunk.readableBytes, seconds: seconds, p50: latencies.percentile(0.5), p99: latencies.percentile(0.99))
    }

    /// One valid record batch of about `size` bytes (one record).
    static func batch(size: Int) -> ByteBuffer {
        let value = [UInt8](repeating: 0x62, count: max(size - 80, 1))
        return RecordBatchBuilder.batch([Record(key: Array("key".utf8), value: value, timestamp: Int64(Date().timeIntervalSince1970 * 1000))])
    }
}

/// Runs a controller on a free 127.0.0.1 port for the body, so commits take the real HTTP path.
func withBenchController(topology: TopologyStore, database: ControlPlaneDatabase, logger: Logger, _ body: (ControlClient) async throws -> Void) async throws {
    let secret = ClusterSecret.generate()
    let controller = ControllerService(configuration: .init(cluster: "bench", host: "127.0.0.1", port: 0, secret: secret), database: database, logger: logger)
    let (urls, sink) = AsyncStream.makeStream(of: String.self)
    try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await controller.run { sink.yield($0) } }
        defer { group.cancelAll() }
        var iterator = urls.makeAsyncIterator()
        guard let url = await iterator.next() else { throw ValidationError("the benchmark controller did not start") }
        try await body(try ControlClient(baseURL: url, secret: secret))
    }
}

// MARK: - Figures

struct AppendFigures {
    var batchSize: Int
    var bytes: Int
    var seconds: Double
    var p50: Double
    var p99: Double
    var puts: Int
    var putP99: Double
    var linger: Double
    var megabytesPerSecond: Double { Double(bytes) / 1_048_576 / seconds }
}

struct ReadFigures {
    var label: String
    var bytes: Int
    var coldSeconds: Double
    var warmSeconds: Double
}

struct LimitFigures {
    var bytes: Int
    var seconds: Double
    var p50: Double
    var p99: Double
    var megabytesPerSecond: Double { Double(bytes) / 1_048_576 / seconds }
}

struct BenchReport {
    var store: String
    var machine: String
    var limit = LimitFigures(bytes: 0, seconds: 1, p50: 0, p99: 0)
    var appends: [AppendFigures] = []
    var reads: [ReadFigures] = []

    static func machine() -> String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory >> 30
        #if DEBUG
        let build = "debug build"
        #else
        let build = "release build"
        #endif
        return "\(cores) cores, \(memory) GiB, \(build)"
    }

    func markdown(limitKind: String) -> String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        func ms(_ seconds: Double) -> String { f(seconds * 1000) + " ms" }
        var lines = [
            "## Storage engine on \(store)", "",
            "\(machine); \(Date().formatted(.iso8601)). Limit: \(limitKind), \(f(limit.megabytesPerSecond)) MB/s (p50 \(ms(limit.p50)), p99 \(ms(limit.p99)) per 8 MiB).", "",
            "| batch | append MB/s | of limit | p50 append→commit | p99 append→commit | p99 − (linger + PUT p99) | PUTs per MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for append in appends {
            let overhead = append.p99 - (append.linger + append.putP99)
            lines.append(
                "| \(append.batchSize >= 1024 ? "\(append.batchSize / 1024) KiB" : "\(append.batchSize) B") | \(f(append.megabytesPerSecond)) | \(f(100 * append.megabytesPerSecond / limit.megabytesPerSecond, 0)) % | \(ms(append.p50)) | \(ms(append.p99)) | \(ms(overhead)) | \(f(Double(append.puts) / (Double(append.bytes) / 1_048_576), 2)) |"
            )
        }
        lines += ["", "| read | bytes | cold MB/s | warm MB/s |", "|---|---|---|---|"]
        for read in reads {
            let mb = Double(read.bytes) / 1_048_576
            lines.append("| \(read.label) | \(f(mb)) MB | \(f(mb / read.coldSeconds)) | \(f(mb / read.warmSeconds)) |")
        }
        return lines.joined(separator: "\n")
    }
}

/// Counts PUTs and their latency on the way through.
actor CountingStore: ObjectStore {
    let inner: any ObjectStore
    private(set) var puts = 0
    private(set) var putLatencies: [Duration] = []

    init(_ inner: any ObjectStore) { self.inner = inner }

    nonisolated var description: String { inner.description }

    func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        let start = ContinuousClock.now
        let info = try await inner.put(key, body: body, ifAbsent: ifAbsent)
        puts += 1
        putLatencies.append(ContinuousClock.now - start)
        return info
    }

    func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer { try await inner.get(key, range: range) }
    func head(_ key: String) async throws -> ObjectInfo? { try await inner.head(key) }
    func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing {
        try await inner.list(prefix: prefix, continuation: continuation, limit: limit)
    }
    func delete(_ keys: [String]) async throws { try await inner.delete(keys) }
}

extension Array where Element == Duration {
    /// The `q` quantile in seconds (nearest rank); 0 when empty.
    func percentile(_ q: Double) -> Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        let rank = Int((Double(sorted.count) * q).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))].seconds
    }
}

extension ObjectStoreURL {
    var isLocal: Bool {
        if case .local = self { return true }
        return false
    }
}
