import AMQControlPlane
import AMQTraffic
import ArgumentParser
import Foundation

struct TrafficCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic",
        abstract: "What crossed zones, what it cost, what Kafka would have cost, and where routing pays.",
        discussion: """
            Agents count every socket byte by category, topic and the zones at either end (packet \
            headers included), and every S3 request; the controller keeps minute buckets. \
            Prices and the Kafka cluster compared with are cluster settings \
            (amq cluster set price.inter-zone-gb=0.02 kafka.replication-factor=3 …; docs/traffic.md).

            Example:
              amq traffic report --since 1h --by zone-pair
              amq traffic advise --apply
            """,
        subcommands: [TrafficReportCommand.self, TrafficAdvise.self]
    )
}

enum TrafficFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case csv
}

/// The window and filters both traffic commands take.
struct TrafficWindowOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Start: now, a duration ago (30m, 2h, 7d), an ISO 8601 time or epoch seconds (default: the first count).", valueName: "time"))
    var since: String?
    @Option(name: .long, help: ArgumentHelp("End, same forms (default: now).", valueName: "time"))
    var until: String?
    @Option(name: .long, help: "Wait up to this many seconds for every agent to ship its counts through the end.")
    var wait: Double = 0

    func validate() throws {
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, TrafficWindow.parse(value) == nil {
                throw ValidationError("\(name) \"\(value)\" is not a time; write now, 30m, 2h, 7d, 2026-12-01T10:00:00Z or epoch seconds")
            }
        }
        if wait < 0 || wait > 600 { throw ValidationError("--wait takes 0 to 600 seconds") }
    }

    /// The window; the start defaults to the first count (or the end when there is none).
    func window(_ store: TopologyStore, _ cluster: String, now: Date = Date()) async throws -> (since: Date, until: Date) {
        let until = until.flatMap { TrafficWindow.parse($0, now: now) } ?? now
        if let since { return (TrafficWindow.parse(since, now: now) ?? now, until) }
        return (min(try await store.trafficStart(cluster) ?? until, until), until)
    }

    /// Builds the report, waiting (when asked) until it is complete.
    func report(_ store: TopologyStore, _ cluster: String, _ query: TrafficQuery) async throws -> TrafficReport {
        try await Self.report(store, cluster, query, wait: .milliseconds(Int(wait * 1000)))
    }

    /// The report, once every running agent has shipped its counts through the window's end or
    /// `wait` has passed.
    static func report(_ store: TopologyStore, _ cluster: String, _ query: TrafficQuery, wait: Duration) async throws -> TrafficReport {
        let deadline = ContinuousClock.now + wait
        while true {
            let report = try await store.trafficReport(cluster, query)
            if report.window.complete || ContinuousClock.now >= deadline { return report }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

struct TrafficReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Bytes within and across zones, S3 requests, their cost, the Kafka baseline and the savings.",
        discussion: """
            Bytes are as the network carries them: frames, HTTP and size prefixes, plus IP and TCP \
            headers. Bytes whose other end is of unknown zone are shown apart and never counted as \
            inter-zone. S3 requests are cluster-wide. The 30-day projection scales the window's cost.

            Example:
              amq traffic report --since 1h
              amq traffic report --topic orders --by zone-pair --format csv
              amq traffic report --chart
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: TrafficWindowOptions
    @Option(name: .long, help: "Only this topic's bytes.")
    var topic: String?
    @Option(name: .long, help: "Only bytes to or from this zone.")
    var zone: String?
    @Option(name: .long, help: "Rows by topic, zone-pair or category.")
    var by: TrafficGrouping = .topic
    @Option(name: .long, help: "Output format: table, json or csv.")
    var format: TrafficFormat = .table
    @Flag(name: .long, help: "Add a per-hour bar chart of bytes within, across and of unknown zones (table format).")
    var chart = false

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let (since, until) = try await window.window(store, cluster)
        let report = try await window.report(store, cluster, TrafficQuery(since: since, until: until, topic: topic, zone: zone, by: by))
        switch format {
        case .json: try Output.json(report)
        case .csv: Output.write(TrafficRendering.csv(report), to: .standardOutput)
        case .table:
            TrafficRendering.table(report, cluster: cluster)
            if chart { TrafficRendering.chart(report) }
        }
    }
}

extension TrafficGrouping: ExpressibleByArgument {}

struct TrafficAdvise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Per topic, whether zone routing pays at its measured volume; --apply acts on it.",
        discussion: """
            Routing saves the inter-zone transfer of produce and fetch bytes and adds S3 requests \
            (router objects, read back by the other zones). Each topic gets route-enable, \
            route-disable or keep, with the figures behind it (docs/traffic.md, Break-even).

            Example:
              amq traffic advise --since 1h
              amq traffic advise --apply --yes
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: TrafficWindowOptions
    @OptionGroup var output: OutputOptions
    @Flag(name: .long, help: "Switch routing as advised, after a confirmation.")
    var apply = false
    @Flag(name: .long, help: "With --apply: do not ask.")
    var yes = false

    func validate() throws {
        if yes && !apply { throw ValidationError("--yes only goes with --apply") }
    }

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let (since, until) = try await window.window(store, cluster)
        let report = try await window.report(store, cluster, TrafficQuery(since: since, until: until))
        if output.format == .json, !apply { return try Output.json(report.advice) }
        TrafficRendering.advice(report)
        guard apply else { return }
        let changes = report.advice.filter { $0.recommendation != .keep }
        guard !changes.isEmpty else { return Output.line("Nothing to change.") }
        let list = changes.map { "\($0.recommendation.rawValue) \($0.topic)" }.joined(separator: ", ")
        if !yes {
            Output.write("Apply \(changes.count) change(s): \(list)? [y/N] ", to: .standardOutput)
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard answer == "y" || answer == "yes" else { return Output.line("Nothing changed.") }
        }
        for change in changes {
            _ = try await store.setRoute(cluster, topic: change.topic, enabled: change.recommendation == .routeEnable)
        }
        let version = try await store.topologyVersion(cluster)
        Output.line("Applied \(changes.count) change(s): \(list) (topology version \(version))")
    }
}
