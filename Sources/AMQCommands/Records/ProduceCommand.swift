import AMQKafkaClient
import AMQKafkaProtocol
import ArgumentParser
import Foundation
import NIOPosix

struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce records read from stdin, one per line, through the Kafka protocol.",
        discussion: """
            Each line becomes one record. With --key-separator, the part before the first separator \
            is the key and the rest the value. The partition is --partition if given, else Kafka's \
            default for the key (murmur2, so other clients agree), else round-robin. Records go as \
            uncompressed batches, one per partition per request, every --batch-size lines. A summary \
            (records, partitions, offsets) goes to stderr; any failure exits non-zero.

            Example:
              printf 'k1:hello\\nk2:world\\n' | amq produce orders --key-separator : --acks all
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kafka: KafkaOptions

    @Argument(help: "Topic to produce to.")
    var topic: String

    @Option(name: .long, help: ArgumentHelp("Split each line into key and value at the first SEP.", valueName: "sep"))
    var keySeparator: String?

    @Option(name: .long, parsing: .unconditional, help: "Produce every record to this partition.")
    var partition: Int?

    @Option(name: .long, help: ArgumentHelp("Acknowledgements to wait for: all, 1 or 0.", valueName: "all|1|0"))
    var acks: String = "all"

    @Option(name: .long, help: "Lines read before a produce request is sent.")
    var batchSize: Int = 1000

    func validate() throws {
        guard ProduceAcks(argument: acks) != nil else { throw ValidationError("--acks must be all, 1 or 0, not \"\(acks)\"") }
        if let partition, partition < 0 { throw ValidationError("--partition must be 0 or more, not \(partition)") }
        if let keySeparator, keySeparator.isEmpty { throw ValidationError("--key-separator must not be empty") }
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 100000") }
    }

    func run() async throws {
        let acks = ProduceAcks(argument: acks) ?? .all
        let started = ContinuousClock.now
        let produced = try await KafkaClient.withClient(kafka, global) { client in
            let metadata = try await client.topic(topic)
            if let partition, partition >= metadata.partitions.count {
                throw KafkaClientError(
                    .invalidArgument, "topic \"\(topic)\" has \(metadata.partitions.count) partition(s); --partition \(partition) does not exist"
                )
            }
            var produced: [ProducedPartition] = []
            while true {
                let lines = try await Self.readLines(max: batchSize)
                if lines.isEmpty { break }
                var batches: [Int32: [Record]] = [:]
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                for line in lines {
                    let record = Self.record(from: line, separator: keySeparator, timestamp: now)
                    let target = try await Self.partition(for: record, explicit: partition, partitions: metadata.partitions.count, client: client)
                    batches[target, default: []].append(record)
                }
                produced += try await client.produce(topic: topic, records: batches, acks: acks)
            }
            return produced
        }
        Output.progress(Self.summary(produced, topic: topic, acks: acks, elapsed: ContinuousClock.now - started))
    }

    static func record(from line: String, separator: String?, timestamp: Int64) -> Record {
        if let separator, let range = line.range(of: separator) {
            return Record(key: Array(line[..<range.lowerBound].utf8), value: Array(line[range.upperBound...].utf8), timestamp: timestamp)
        }
        return Record(key: nil, value: Array(line.utf8), timestamp: timestamp)
    }

    /// Explicit partition, else murmur2 of the key, else round-robin.
    static func partition(for record: Record, explicit: Int?, partitions: Int, client: KafkaClient) async throws -> Int32 {
        if let explicit { return Int32(explicit) }
        if let key = record.key { return Murmur2.partition(forKey: key, partitions: partitions) }
        return await client.nextRoundRobin(partitions)
    }

    /// Up to `max` lines of stdin; empty at end of input. `readLine` blocks, so it runs on NIO's
    /// thread pool rather than on a Swift concurrency thread.
    static func readLines(max: Int) async throws -> [String] {
        try await NIOThreadPool.singleton.runIfActive {
            var lines: [String] = []
            while lines.count < max, let line = readLine(strippingNewline: true) {
                lines.append(line.hasSuffix("\r") ? String(line.dropLast()) : line)
            }
            return lines
        }
    }

    static func summary(_ produced: [ProducedPartition], topic: String, acks: ProduceAcks, elapsed: Duration) -> String {
        let total = produced.reduce(0) { $0 + $1.count }
        var byPartition: [Int32: (first: Int64, last: Int64, count: Int)] = [:]
        for part in produced {
            let last = part.baseOffset < 0 ? KafkaSentinel.unknownOffset : part.baseOffset + Int64(part.count) - 1
            if let existing = byPartition[part.partition] {
                byPartition[part.partition] = (min(existing.first, part.baseOffset), max(existing.last, last), existing.count + part.count)
            } else {
                byPartition[part.partition] = (part.baseOffset, last, part.count)
            }
        }
        let seconds = Double(elapsed.inMilliseconds) / 1000
        var lines = ["Produced \(total) record(s) to \(topic) in \(String(format: "%.2f", seconds))s (acks=\(acks == .all ? "all" : String(acks.rawValue)))"]
        for (partition, range) in byPartition.sorted(by: { $0.key < $1.key }) {
            let offsets = range.first < 0 ? "offsets not reported with acks=0" : "offsets \(range.first)-\(range.last)"
            lines.append("  partition \(partition): \(range.count) record(s), \(offsets)")
        }
        return lines.joined(separator: "\n")
    }
}
