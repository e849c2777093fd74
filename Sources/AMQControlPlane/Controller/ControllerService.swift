import AMQObjectStore
import AMQSecurity
import AMQStorage
import AMQTraffic
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Settings of one `amq controller run`.
package struct ControllerConfiguration: Sendable {
    package var cluster: String
    package var host: String
    /// 0 picks a free port.
    package var port: Int
    package var secret: ClusterSecret
    /// The zone the controller runs in, so its traffic with agents is counted by zone (nil: unknown).
    package var zone: String?
    /// How often the controller adds its own traffic counts to the history.
    package var trafficInterval: Duration = .seconds(1)
    /// How often the controller looks for topology versions committed by other processes.
    package var versionPollInterval: Duration = .milliseconds(100)
    /// Retention, compaction and garbage collection of the cluster's streams.
    package var maintenance = StreamMaintenance.Configuration()
    /// Serve the control API over https with this identity (client certificates per its files).
    package var tls: TLSMaterial?

    package init(cluster: String, host: String, port: Int, secret: ClusterSecret) {
        self.cluster = cluster
        self.host = host
        self.port = port
        self.secret = secret
    }
}

/// The control-plane daemon, assembled here and nowhere else: serves the control API, notices
/// every committed topology version (from itself or any CLI process) and pushes it to agents'
/// long-polls, marks nodes down when they miss heartbeats and fails their leadership over, and runs
/// stream maintenance (retention, compaction, garbage collection) on the cluster's object store.
package struct ControllerService: Sendable {
    package let configuration: ControllerConfiguration
    package let store: TopologyStore
    package let logger: Logger
    let broadcaster = TopologyBroadcaster()

    package init(configuration: ControllerConfiguration, database: ControlPlaneDatabase, logger: Logger) {
        self.configuration = configuration
        self.store = TopologyStore(database: database, actor: "controller")
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT. `onListening` gets the URL actually bound.
    package func run(onListening: @escaping @Sendable (String) async -> Void = { _ in }) async throws {
        let initial = try await store.snapshot(configuration.cluster)
        await broadcaster.publish(initial)
        let registry = PrometheusCollectorRegistry()
        let ledger = TrafficLedger(zone: configuration.zone)
        let connections = KernelCountedConnections(category: .control)
        let objects = MeteredObjectStore(try ObjectStoreURL(initial.objectStoreURL).makeStore(logger: logger), ledger: ledger)
        let maintenance = StreamMaintenance(
            index: ClusterStreamIndex(store: store, cluster: configuration.cluster), objects: objects,
            configuration: configuration.maintenance, logger: logger
        )
        let router = ControlRouter(
            store: store, broadcaster: broadcaster, secret: configuration.secret, cluster: configuration.cluster, connections: connections,
            metrics: TrafficMetrics(registry: registry, ledger: ledger), logger: logger
        )
        let cluster = configuration.cluster
        let store = self.store
        let logger = self.logger
        let scheme = configuration.tls == nil ? "http" : "https"
        var app = Application(
            router: router.build(),
            server: try configuration.tls.map { try .tls(tlsConfiguration: $0.serverConfiguration()) } ?? .http1(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "amq-controller"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let url = "\(scheme)://\(Self.urlHost(channel.localAddress?.ipAddress ?? "127.0.0.1")):\(port)"
                do {
                    try await store.setController(cluster, url: url, pid: Int(ProcessInfo.processInfo.processIdentifier))
                } catch {
                    logger.error("Cannot record the controller address", metadata: ["amq.error": "\(error)"])
                }
                logger.info("Controller listening", metadata: ["amq.url": "\(url)", "amq.cluster": "\(cluster)"])
                await onListening(url)
            },
            logger: logger
        )
        app.addServices(
            VersionWatcher(store: store, cluster: cluster, broadcaster: broadcaster, interval: configuration.versionPollInterval, logger: logger),
            LivenessMonitor(store: store, cluster: cluster, broadcaster: broadcaster, logger: logger),
            MaintenanceService(maintenance: maintenance),
            TrafficHistoryService(
                store: store, cluster: cluster, ledger: ledger, connections: connections, interval: configuration.trafficInterval, logger: logger
            )
        )
        if let tls = configuration.tls { app.addServices(TLSReloadService(materials: [tls], logger: logger)) }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        try? await store.setController(cluster, url: nil, pid: nil)
        logger.info("Controller stopped", metadata: ["amq.cluster": "\(cluster)"])
    }

    static func urlHost(_ address: String) -> String {
        address.contains(":") ? "[\(address)]" : address
    }
}

/// Polls the database's topology version: the CLI commits changes straight to SQLite, so this is
/// how the controller learns of them. A version read is one indexed row; at 100 ms it costs nothing.
struct VersionWatcher: Service {
    let store: TopologyStore
    let cluster: String
    let broadcaster: TopologyBroadcaster
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var failures = 0
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: interval)
            do {
                let version = try await store.topologyVersion(cluster)
                guard version != (await broadcaster.current())?.version else { continue }
                let snapshot = try await store.snapshot(cluster)
                await broadcaster.publish(snapshot)
                logger.info("Topology changed", metadata: ["amq.topology.version": "\(snapshot.version)"])
                failures = 0
            } catch {
                failures += 1
                // Log the first failure and then every 50th, so a locked database does not flood the log.
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("Cannot read the topology version", metadata: ["amq.error": "\(error)", "amq.failures": "\(failures)"])
                }
            }
        }
    }
}

/// Marks nodes down after they miss `missedHeartbeatsBeforeDown` heartbeats, and moves the
/// leadership of their partitions, and their read-only replicas, to nodes that are up (`TopologyStore.failOver`).
struct LivenessMonitor: Service {
    let store: TopologyStore
    let cluster: String
    let broadcaster: TopologyBroadcaster
    let logger: Logger

    func run() async throws {
        // Heartbeats sent while no controller ran were never recorded: every node gets a full
        // grace period from this controller's start before it can be marked down (issue 11).
        let started = Date()
        while !Task.isCancelledOrShuttingDown {
            let settings = (await broadcaster.current())?.settings ?? ClusterSettings()
            let interval = Duration.milliseconds(settings.heartbeatIntervalMs)
            try? await Task.sleep(for: interval / 2)
            let grace = Double(settings.heartbeatIntervalMs * settings.missedHeartbeatsBeforeDown) / 1000
            let stoppedGrace = Double(settings.stoppedFailoverMs) / 1000
            do {
                let now = Date()
                let uptime = now.timeIntervalSince(started)
                let downed =
                    uptime < grace
                    ? []
                    : try await store.markDown(
                        cluster, heartbeatBefore: now.addingTimeInterval(-grace),
                        // Stopped nodes too get their full time from this controller's start.
                        stoppedBefore: uptime < stoppedGrace ? nil : now.addingTimeInterval(-stoppedGrace)
                    )
                for node in downed {
                    logger.notice("Node marked down: heartbeats missed, or stopped for longer than stopped.failover.ms", metadata: ["amq.node.id": "\(node)"])
                }
                // Every round, not only when a node goes down: a leader left on a down node
                // because no other node was up then moves as soon as one is.
                let moves = try await store.failOver(cluster)
                for move in moves where move.fromLeader != move.toLeader {
                    logger.notice(
                        "Partition leadership failed over",
                        metadata: [
                            "kafka.topic": "\(move.topic)", "kafka.partition": "\(move.index)",
                            "amq.from": "\(move.fromLeader.map(String.init) ?? "none")", "amq.to": "\(move.toLeader)", "amq.epoch": "\(move.leaderEpoch)",
                        ]
                    )
                }
                let replicaMoves = moves.filter { $0.fromLeader == $0.toLeader }
                if !replicaMoves.isEmpty {
                    logger.notice("Read-only replicas failed over", metadata: ["amq.partitions": "\(replicaMoves.count)"])
                }
            } catch {
                logger.warning("Liveness check failed", metadata: ["amq.error": "\(error)"])
            }
        }
    }
}

/// Adds the controller's own traffic (its connections with agents, its S3 requests) to the history
/// every `interval`, and once a minute rolls old minute buckets up and drops expired ones. Counts
/// the database refused are kept for the next round.
struct TrafficHistoryService: Service {
    let store: TopologyStore
    let cluster: String
    let ledger: TrafficLedger
    let connections: KernelCountedConnections
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var unsaved = TrafficTally()
        var lastCompaction = Date.distantPast
        var lastSave = Date.distantPast
        while !Task.isCancelledOrShuttingDown {
            try? await SampleTicks.sleepUntilNext(period: TrafficSampling.period)
            let through = ledger.now
            await connections.sample(into: ledger)
            guard through.timeIntervalSince(lastSave) >= interval.seconds else { continue }
            lastSave = through
            unsaved.merge(ledger.take())
            do {
                try await store.recordControllerTraffic(cluster, unsaved, through: through)
                unsaved = TrafficTally()
                if through.timeIntervalSince(lastCompaction) >= 60 {
                    try await store.compactTraffic(cluster, now: through)
                    lastCompaction = through
                }
            } catch {
                logger.warning("Cannot save traffic counts; keeping them for the next round", metadata: ["amq.error": "\(error)"])
            }
        }
        // Stopping: what was counted since the last round is saved too.
        let through = ledger.now
        await connections.sample(into: ledger)
        unsaved.merge(ledger.take())
        do {
            try await store.recordControllerTraffic(cluster, unsaved, through: through)
        } catch {
            logger.warning("Cannot save the last traffic counts", metadata: ["amq.error": "\(error)"])
        }
    }
}

/// Stream maintenance beside the controller until it stops.
struct MaintenanceService: Service {
    let maintenance: StreamMaintenance

    func run() async throws {
        await cancelWhenGracefulShutdown { await maintenance.run() }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
