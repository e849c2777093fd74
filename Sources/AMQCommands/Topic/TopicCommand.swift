import AMQControlPlane
import ArgumentParser
import Foundation

struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, inspect, change and delete topics; switch inter-zone routing.",
        discussion: "Example:\n  amq topic create orders --partitions 12 --config retention.ms=86400000\n  amq topic route-enable orders",
        subcommands: [
            TopicCreate.self, TopicList.self, TopicDescribe.self, TopicAlter.self, TopicDelete.self, TopicRouteEnable.self,
            TopicRouteDisable.self,
        ]
    )
}

/// A topic as `describe` shows it: its partitions with the zones that have no live replica.
private struct DescribedTopic: Encodable {
    var topic: TopicInfo
    var partitions: [PartitionStatus]
}

/// Renders a topic and its partitions for `describe`, `create` and `alter`.
private func show(
    _ description: TopologyStore.TopicDescription, format: OutputFormat, store: TopologyStore, cluster: String
) async throws {
    let partitions = PartitionStatus.of(description.partitions, in: try await store.snapshot(cluster))
    if format == .json { return try Output.json(DescribedTopic(topic: description.topic, partitions: partitions)) }
    let topic = description.topic
    Output.line("Topic \(topic.name)  id \(topic.id)  partitions \(topic.partitions)  route.enabled \(topic.config.routeEnabled)")
    Output.line("Configs: " + topic.config.allEntries.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    Output.table(
        ["partition", "leader", "epoch", "replicas", "degraded zones"],
        partitions.map {
            [String($0.index), String($0.leader), String($0.leaderEpoch), Output.replicas($0.replicas), Output.zones($0.zonesWithoutReplica)]
        }
    )
}

struct TopicCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a topic and place its partitions.",
        discussion: """
            Configs: route.enabled, retention.ms, retention.bytes, linger.ms (0–250), and any Kafka \
            topic config, kept verbatim.

            Example:
              amq topic create orders --partitions 12 --route-enabled
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Topic name.")
    var name: String
    // Unconditional, so "--partitions -3" reaches validation instead of reading as a flag.
    @Option(name: .long, parsing: .unconditional, help: "Number of partitions.")
    var partitions: Int
    @Option(name: .long, help: ArgumentHelp("Topic config key=value (repeatable).", valueName: "key=value"))
    var config: [String] = []
    @Flag(name: .long, help: "Turn inter-zone routing on (same as --config route.enabled=true).")
    var routeEnabled = false

    func validate() throws {
        guard partitions > 0 else { throw ValidationError("--partitions must be at least 1, not \(partitions)") }
    }

    func run() async throws {
        var topicConfig = TopicConfig()
        for text in config {
            let (key, value) = try TopicConfig.parseAssignment(text)
            try topicConfig.set(key, value)
        }
        if routeEnabled { topicConfig.routeEnabled = true }
        let (store, cluster) = try await global.openCluster()
        let description = try await store.createTopic(cluster, name: name, partitions: partitions, config: topicConfig)
        if output.format == .json { return try Output.json(description) }
        Output.line("Created topic \(name) with \(partitions) partition(s)")
        try await show(description, format: output.format, store: store, cluster: cluster)
    }
}

struct TopicList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List topics with their partition count and routing switch.",
        discussion: "Example:\n  amq topic list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let topics = try await store.topics(cluster)
        if output.format == .json { return try Output.json(topics) }
        Output.table(
            ["topic", "partitions", "route", "retention.ms", "linger.ms", "id"],
            topics.map {
                [$0.name, String($0.partitions), $0.config.routeEnabled ? "on" : "off", String($0.config.retentionMs), String($0.config.lingerMs), $0.id]
            }
        )
    }
}

struct TopicDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a topic's configs and where each partition lives.",
        discussion: "Example:\n  amq topic describe orders"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Topic name.")
    var name: String

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        try await show(try await store.describeTopic(cluster, name), format: output.format, store: store, cluster: cluster)
    }
}

struct TopicAlter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alter",
        abstract: "Change a topic's configs or add partitions.",
        discussion: """
            Partitions can only be added, as in Kafka. --delete-config resets a config to its default.

            Example:
              amq topic alter orders --config retention.ms=3600000 --partitions 24
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Topic name.")
    var name: String
    @Option(name: .long, help: ArgumentHelp("Config to set, key=value (repeatable).", valueName: "key=value"))
    var config: [String] = []
    @Option(name: .long, help: ArgumentHelp("Config to reset to its default (repeatable).", valueName: "key"))
    var deleteConfig: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "New, larger partition count.")
    var partitions: Int?

    func validate() throws {
        if config.isEmpty && deleteConfig.isEmpty && partitions == nil {
            throw ValidationError("nothing to change: pass --config key=value, --delete-config key or --partitions N")
        }
        if let partitions, partitions <= 0 { throw ValidationError("--partitions must be at least 1, not \(partitions)") }
    }

    func run() async throws {
        let assignments = try config.map { text throws(ControlPlaneError) in try TopicConfig.parseAssignment(text) }
        let (store, cluster) = try await global.openCluster()
        let description = try await store.alterTopic(cluster, name: name, set: assignments, reset: deleteConfig, partitions: partitions)
        if output.format == .json { return try Output.json(description) }
        Output.line("Altered topic \(name)")
        try await show(description, format: output.format, store: store, cluster: cluster)
    }
}

struct TopicDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a topic.",
        discussion: "Example:\n  amq topic delete orders"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Topic name.")
    var name: String

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        try await store.deleteTopic(cluster, name: name)
        Output.line("Deleted topic \(name)")
    }
}

struct TopicRouteEnable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route-enable",
        abstract: "Turn inter-zone routing on: clients see the partition's agent in their own zone.",
        discussion: "The switch is stored and pushed to every agent with the next topology version.\n\nExample:\n  amq topic route-enable orders"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Topic name.")
    var name: String

    func run() async throws {
        try await switchRoute(global, topic: name, enabled: true)
    }
}

struct TopicRouteDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route-disable",
        abstract: "Turn inter-zone routing off: every client sees the true leader, as in Kafka.",
        discussion: "Example:\n  amq topic route-disable orders"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Topic name.")
    var name: String

    func run() async throws {
        try await switchRoute(global, topic: name, enabled: false)
    }
}

/// Stores a topic's routing switch; agents get it with the new topology version.
private func switchRoute(_ global: GlobalOptions, topic: String, enabled: Bool) async throws {
    let (store, cluster) = try await global.openCluster()
    _ = try await store.setRoute(cluster, topic: topic, enabled: enabled)
    let version = try await store.topologyVersion(cluster)
    Output.line("Routing \(enabled ? "enabled" : "disabled") for topic \(topic) (topology version \(version))")
}
