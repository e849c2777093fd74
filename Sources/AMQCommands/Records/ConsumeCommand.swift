import AMQKafkaClient
import AMQKafkaProtocol
import ArgumentParser
import Foundation
import Synchronization
import UnixSignals

enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print a topic's records, read through the Kafka protocol, alone or in a consumer group.",
        discussion: """
            Without --group, reads every partition (or --partition) directly, from the latest offset \
            or, with --from-beginning, the earliest. With --group, joins the group (classic protocol, \
            range assignment), resumes from its committed offsets (none yet: earliest with \
            --from-beginning, else latest), commits after each batch it prints and leaves the group \
            on exit, Ctrl-C included. Stops after --count records, or once --timeout seconds pass \
            with nothing new. Text prints one value per line (key TAB value with --print-keys); json \
            one object per line with partition, offset, timestamp, key, value and headers.

            Example:
              amq consume orders --group billing --from-beginning --count 10 --format json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kafka: KafkaOptions

    @Argument(help: "Topic to read.")
    var topic: String

    @Option(name: .long, help: "Consumer group to join (commits its offsets).")
    var group: String?

    @Flag(name: .long, help: "Start at the earliest offset when there is no committed one.")
    var fromBeginning = false

    @Option(name: .long, help: "Stop after this many records.")
    var count: Int?

    @Option(name: .long, parsing: .unconditional, help: "Read only this partition (not with --group).")
    var partition: Int?

    @Option(name: .long, help: ArgumentHelp("Stop when nothing new arrives for this many seconds.", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .long, help: "Output format: text or json.")
    var format: RecordFormat = .text

    @Flag(name: .long, help: "Text format: print key TAB value.")
    var printKeys = false

    func validate() throws {
        if group != nil && partition != nil {
            throw ValidationError("--partition reads a partition directly and cannot be combined with --group, which assigns partitions")
        }
        if let group, group.isEmpty { throw ValidationError("--group must not be empty") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, not \(count)") }
        if let partition, partition < 0 { throw ValidationError("--partition must be 0 or more, not \(partition)") }
        if let timeout, timeout <= 0 { throw ValidationError("--timeout must be more than 0 seconds") }
    }

    func run() async throws {
        let stop = StopSignal()
        let session = ConsumeSession(
            topic: topic, group: group, fromBeginning: fromBeginning, count: count, partition: partition.map { Int32($0) },
            idleTimeout: timeout.map { .milliseconds(Int64($0 * 1000)) }, format: format, printKeys: printKeys
        )
        let consumed = try await KafkaClient.withClient(kafka, global) { client in
            try await withThrowingTaskGroup(of: Int?.self) { tasks in
                // Ctrl-C and SIGTERM end the loop between fetches, so it still commits and leaves.
                tasks.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                        stop.set()
                        break
                    }
                    return nil
                }
                tasks.addTask { try await session.run(client, stop: stop) }
                var consumed = 0
                while let result = try await tasks.next() {
                    if let result {
                        consumed = result
                        tasks.cancelAll()
                    }
                }
                return consumed
            }
        }
        Output.progress("Consumed \(consumed) record(s) from \(topic)" + (group.map { " as group \($0)" } ?? ""))
    }
}

/// Set once by a signal; read by the consume loop between fetches.
final class StopSignal: Sendable {
    private let stopped = Mutex(false)
    func set() { stopped.withLock { $0 = true } }
    var isSet: Bool { stopped.withLock { $0 } }
}

/// The consume loop, with or without a group.
struct ConsumeSession: Sendable {
    var topic: String
    var group: String?
    var fromBeginning: Bool
    var count: Int?
    var partition: Int32?
    var idleTimeout: Duration?
    var format: RecordFormat
    var printKeys: Bool
    var maxWait: Duration = .milliseconds(500)

    /// Returns the number of records printed.
    func run(_ client: KafkaClient, stop: StopSignal) async throws -> Int {
        let reset: OffsetSpec = fromBeginning ? .earliest : .latest
        var member = group.map { ConsumerGroupMember(client: client, group: $0, topic: topic) }
        var offsets: [Int32: Int64]
        if var joined = member {
            offsets = try await startOffsets(&joined, client: client, reset: reset)
            member = joined
        } else {
            var partitions = try await client.topic(topic).partitions.map(\.index)
            if let partition {
                guard partitions.contains(partition) else {
                    throw KafkaClientError(.invalidArgument, "topic \"\(topic)\" has \(partitions.count) partition(s); --partition \(partition) does not exist")
                }
                partitions = [partition]
            }
            offsets = try await client.listOffsets(topic: topic, partitions: partitions, spec: reset)
        }
        var printed = 0
        var failures = 0
        var lastActivity = ContinuousClock.now
        while !stop.isSet, count.map({ printed < $0 }) ?? true {
            if let idleTimeout, ContinuousClock.now - lastActivity >= idleTimeout { break }
            if offsets.isEmpty {
                try await Task.sleep(for: maxWait)
            } else {
                let round: FetchRound
                do {
                    round = try await client.fetch(topic: topic, offsets: offsets, maxWait: maxWait)
                    failures = 0
                } catch let error as KafkaClientError where Self.isTransient(error) && failures < Self.retries {
                    // An agent restarting or a leader moving: ask Metadata again and carry on.
                    failures += 1
                    Output.progress("warning: \(error.message); retrying (\(failures)/\(Self.retries))")
                    await client.invalidate(topic)
                    try await client.backoff(failures)
                    continue
                }
                round.skipped.forEach { Output.progress("warning: \($0)") }
                var cutShort = false
                for fetched in round.records {
                    if let count, printed >= count {
                        cutShort = true
                        break
                    }
                    emit(fetched)
                    printed += 1
                    offsets[fetched.partition] = fetched.offset + 1
                }
                if !cutShort {
                    for (partition, next) in round.nextOffsets { offsets[partition] = max(offsets[partition] ?? next, next) }
                }
                if !round.outOfRange.isEmpty {
                    let reset = try await client.listOffsets(topic: topic, partitions: round.outOfRange, spec: reset)
                    offsets.merge(reset) { _, new in new }
                }
                if !round.records.isEmpty {
                    lastActivity = .now
                    try await member?.commit(offsets)
                }
            }
            if var current = member {
                if try await !current.heartbeatIfDue() {
                    // Rebalancing: the generation is over, so the broker may refuse this commit;
                    // whatever it keeps, the next owner resumes from the committed offsets.
                    try? await current.commit(offsets)
                    offsets = try await startOffsets(&current, client: client, reset: reset)
                }
                member = current
            }
        }
        if let member {
            try await member.commitAndLeave(offsets)
        }
        return printed
    }

    /// Consecutive failed fetches tolerated before giving up.
    static let retries = 5

    static func isTransient(_ error: KafkaClientError) -> Bool {
        [.connectionClosed, .timeout, .brokerUnreachable].contains(error.code)
    }

    /// Joins and picks each assigned partition's start: the committed offset, else `reset`.
    private func startOffsets(_ member: inout ConsumerGroupMember, client: KafkaClient, reset: OffsetSpec) async throws -> [Int32: Int64] {
        let assigned = try await member.join()
        Output.progress("Joined group \(member.group) (generation \(member.generation)): assigned \(topic) partitions \(assigned.map(String.init).joined(separator: ",").nilIfEmpty ?? "none")")
        var offsets = try await member.committed()
        let missing = assigned.filter { offsets[$0] == nil }
        if !missing.isEmpty {
            offsets.merge(try await client.listOffsets(topic: topic, partitions: missing, spec: reset)) { old, _ in old }
        }
        return offsets.filter { assigned.contains($0.key) }
    }

    private func emit(_ fetched: FetchedRecord) {
        let record = fetched.record
        func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
        switch format {
        case .text:
            let value = text(record.value) ?? ""
            Output.line(printKeys ? "\(text(record.key) ?? "")\t\(value)" : value)
        case .json:
            let line = RecordLine(
                partition: fetched.partition, offset: fetched.offset, timestamp: record.timestamp, key: text(record.key), value: text(record.value),
                headers: record.headers.map { .init(key: $0.key, value: text($0.value)) }
            )
            Output.line(line.json)
        }
    }
}

/// One record as `--format json` prints it: a single line per record.
struct RecordLine: Codable {
    struct Header: Codable {
        var key: String
        var value: String?
    }
    var partition: Int32
    var offset: Int64
    var timestamp: Int64
    var key: String?
    var value: String?
    var headers: [Header]

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension ConsumerGroupMember {
    /// The last commit, then LeaveGroup, so the rest of the group rebalances at once.
    func commitAndLeave(_ offsets: [Int32: Int64]) async throws {
        var member = self
        try await member.commit(offsets)
        try await leave()
        Output.progress("Committed offsets and left group \(group)")
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
