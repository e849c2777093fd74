import AMQKafkaClient
import AMQKafkaProtocol
import ArgumentParser
import Foundation

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "List and describe consumer groups, and reset their offsets, through the Kafka protocol.",
        discussion: "Example:\n  amq group list\n  amq group describe billing\n  amq group reset-offsets billing --topic orders --to-earliest --execute",
        subcommands: [GroupList.self, GroupDescribe.self, GroupResetOffsets.self]
    )
}

struct GroupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the consumer groups of every broker.",
        discussion: "Asks each broker with ListGroups (each coordinates a share of the groups).\n\nExample:\n  amq group list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let groups = try await KafkaClient.withClient(kafka, global) { try await $0.listGroups() }
        if output.format == .json { return try Output.json(groups) }
        Output.table(["group", "state", "protocol type", "coordinator"], groups.map { [$0.groupID, $0.state, $0.protocolType.nilIfEmpty ?? "-", String($0.coordinator)] })
    }
}

struct GroupDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a group's state, members and assignments, and per partition its committed offset and lag.",
        discussion: """
            LAG is the log end offset (high watermark) minus the committed offset; "-" where the group \
            has committed nothing.

            Example:
              amq group describe billing
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Group id.")
    var group: String

    struct Member: Codable {
        var memberId: String
        var clientId: String
        var clientHost: String
        var assignment: [String: [Int32]]
    }

    struct PartitionLag: Codable {
        var topic: String
        var partition: Int32
        var committedOffset: Int64?
        var logEndOffset: Int64
        var lag: Int64?
        var member: String?
    }

    struct Description: Codable {
        var group: String
        var state: String
        var protocolType: String
        var protocolName: String
        var coordinator: String
        var members: [Member]
        var partitions: [PartitionLag]
    }

    func run() async throws {
        let description = try await KafkaClient.withClient(kafka, global) { client in
            let coordinator = try await client.findCoordinator(group: group)
            let described = try await client.describeGroup(group, coordinator: coordinator)
            if described.groupState == "Dead" {
                throw KafkaClientError(.invalidArgument, "group \"\(group)\" does not exist; list groups with 'amq group list'")
            }
            let members = try described.members.map { member throws -> Member in
                var assignment = ConsumerProtocolAssignment()
                if described.protocolType == "consumer" { assignment = try ConsumerProtocolBytes.decodeAssignment(member.memberAssignment) }
                return Member(
                    memberId: member.memberId, clientId: member.clientId, clientHost: member.clientHost,
                    assignment: Dictionary(assignment.assignedPartitions.map { ($0.topic, $0.partitions.sorted()) }, uniquingKeysWith: +)
                )
            }
            let committed = try await client.committedOffsets(group: group, coordinator: coordinator, topics: nil)
            // Every partition of every topic the group reads or has offsets for.
            let topics = Set(committed.map(\.topic)).union(members.flatMap(\.assignment.keys))
            var partitions: [PartitionLag] = []
            for topic in topics.sorted() {
                let indexes = try await client.topic(topic).partitions.map(\.index)
                let ends = try await client.listOffsets(topic: topic, partitions: indexes, spec: .latest)
                for index in indexes {
                    let offset = committed.first { $0.topic == topic && $0.partition == index }.map(\.offset).flatMap { $0 >= 0 ? $0 : nil }
                    let end = ends[index] ?? 0
                    let owner = members.first { $0.assignment[topic]?.contains(index) ?? false }?.memberId
                    partitions.append(.init(topic: topic, partition: index, committedOffset: offset, logEndOffset: end, lag: offset.map { max(0, end - $0) }, member: owner))
                }
            }
            return Description(
                group: group, state: described.groupState, protocolType: described.protocolType, protocolName: described.protocolData,
                coordinator: coordinator.description, members: members, partitions: partitions
            )
        }
        if output.format == .json { return try Output.json(description) }
        render(description)
    }

    private func render(_ description: Description) {
        Output.line(
            "Group \(description.group)  state \(description.state)  protocol \(description.protocolType.nilIfEmpty ?? "-")/\(description.protocolName.nilIfEmpty ?? "-")  coordinator \(description.coordinator)"
        )
        Output.line()
        Output.table(
            ["member", "client id", "host", "assigned"],
            description.members.map { member in
                let assigned = member.assignment.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.map(String.init).joined(separator: ","))" }
                return [member.memberId, member.clientId, member.clientHost, assigned.joined(separator: " ").nilIfEmpty ?? "-"]
            }
        )
        Output.line()
        Output.table(
            ["topic", "partition", "committed", "log end", "lag", "member"],
            description.partitions.map {
                [$0.topic, String($0.partition), Output.optional($0.committedOffset), String($0.logEndOffset), Output.optional($0.lag), $0.member ?? "-"]
            }
        )
    }
}

struct GroupResetOffsets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-offsets",
        abstract: "Plan, and with --execute commit, new offsets for a group on one topic.",
        discussion: """
            Without --execute this is a dry run that only shows the plan. --execute commits the offsets \
            with OffsetCommit as an admin (generation -1, no member id), which the broker accepts only \
            while the group has no active members: stop its consumers first.

            Example:
              amq group reset-offsets billing --topic orders --to-earliest --execute
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Group id.")
    var group: String
    @Option(name: .long, help: "Topic whose offsets to reset.")
    var topic: String
    @Flag(name: .long, help: "Reset to each partition's earliest offset.")
    var toEarliest = false
    @Flag(name: .long, help: "Reset to each partition's latest offset (skip everything so far).")
    var toLatest = false
    @Option(name: .long, parsing: .unconditional, help: "Reset every partition to this offset (clamped to the log).")
    var toOffset: Int64?
    @Flag(name: .long, help: "Commit the plan (default: dry run).")
    var execute = false

    struct Plan: Codable {
        var partition: Int32
        var current: Int64?
        var target: Int64
    }

    func validate() throws {
        let chosen = [toEarliest, toLatest, toOffset != nil].filter { $0 }.count
        guard chosen == 1 else { throw ValidationError("pick exactly one of --to-earliest, --to-latest or --to-offset N") }
        if let toOffset, toOffset < 0 { throw ValidationError("--to-offset must be 0 or more, not \(toOffset)") }
    }

    func run() async throws {
        let plan = try await KafkaClient.withClient(kafka, global) { client in
            let indexes = try await client.topic(topic).partitions.map(\.index)
            let coordinator = try await client.findCoordinator(group: group)
            let committed = try await client.committedOffsets(group: group, coordinator: coordinator, topics: [topic: indexes])
            let earliest = try await client.listOffsets(topic: topic, partitions: indexes, spec: .earliest)
            let latest = try await client.listOffsets(topic: topic, partitions: indexes, spec: .latest)
            let plan = indexes.map { index in
                let low = earliest[index] ?? 0
                let high = latest[index] ?? 0
                let target = toEarliest ? low : toLatest ? high : min(max(toOffset ?? 0, low), high)
                let current = committed.first { $0.partition == index }.map(\.offset).flatMap { $0 >= 0 ? $0 : nil }
                return Plan(partition: index, current: current, target: target)
            }
            if execute {
                do {
                    try await client.commitOffsets(
                        group: group, coordinator: coordinator, topic: topic, offsets: Dictionary(uniqueKeysWithValues: plan.map { ($0.partition, $0.target) })
                    )
                } catch let error as KafkaClientError where error.kafkaError == KafkaErrorCode.unknownMemberID
                    || error.kafkaError == KafkaErrorCode.illegalGeneration || error.kafkaError == KafkaErrorCode.rebalanceInProgress
                    || error.kafkaError == KafkaErrorCode.nonEmptyGroup
                {
                    throw KafkaClientError(
                        .brokerError,
                        "group \"\(group)\" has active members, so the broker refused the reset (\(error.message)); stop its consumers and run this again",
                        kafkaError: error.kafkaError
                    )
                }
            }
            return plan
        }
        if output.format == .json { return try Output.json(plan) }
        Output.table(
            ["topic", "partition", "current", "new"], plan.map { [topic, String($0.partition), Output.optional($0.current), String($0.target)] }
        )
        Output.progress(execute ? "Committed new offsets for group \(group) on \(topic)" : "Dry run: nothing changed; add --execute to commit these offsets")
    }
}
