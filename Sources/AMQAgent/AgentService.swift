import AMQControlPlane
import AMQStorage
import AMQObjectStore
import AMQSecurity
import AMQTraffic
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A node agent: binds its listeners, registers with the controller, heartbeats and follows the
/// topology until SIGTERM or SIGINT, then leaves cleanly.
package struct AgentService: Sendable {
    package let configuration: AgentConfiguration
    package let state = AgentState()
    package let metrics: AgentMetrics
    /// This agent's traffic counts (docs/traffic.md).
    let traffic: TrafficLedger
    let logger: Logger

    package init(configuration: AgentConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        traffic = TrafficLedger(zone: configuration.zone)
        metrics = AgentMetrics(traffic: traffic)
    }

    package func run() async throws {
        ProcessMemory.returnLargeBuffersToTheSystem()
        let tls = configuration.tls
        // The controller and other agents are trusted by the CA this agent's certificate comes
        // from, and see this agent's certificate (mutual TLS) when they ask for one.
        let clientTLS = tls?.files.asClient
        let client = try ControlClient(baseURL: configuration.controllerURL, secret: configuration.secret, zone: configuration.zone, tls: clientTLS)
        let groups = GroupCoordinator(logger: logger)
        let listeners = configuration.kafkaListeners
        let broker = KafkaBroker(
            state: state, control: client, groups: groups, metrics: metrics, traffic: traffic, logger: logger,
            hasSASLListener: listeners.contains { $0.securityProtocol.usesSASL }
        )
        // Kafka clients are not asked for certificates (Kafka's ssl.client.auth=none); agents
        // and the controller are, as --tls-client-auth says.
        let kafkaTLS = try tls?.makeServerContext(clientAuth: TLSClientAuth.none)
        let serverTLS = try tls?.makeServerContext()
        var kafkaServers: [KafkaServer] = []
        for listener in listeners {
            let host = listener.host ?? configuration.bindHost
            if listener.securityProtocol.usesTLS, kafkaTLS == nil {
                throw AgentError("listener \(listener) needs TLS: pass --tls-cert and --tls-key")
            }
            do {
                kafkaServers.append(
                    try await KafkaServer.bind(
                        host: host, port: listener.port, listener: listener.securityProtocol, tls: listener.securityProtocol.usesTLS ? kafkaTLS : nil,
                        broker: broker, logger: logger
                    )
                )
            } catch {
                throw AgentError("cannot bind the Kafka listener \(listener.name) on \(host):\(listener.port): \(error); pick another port", underlying: error)
            }
        }
        let authenticator = RPCAuthenticator(secret: configuration.secret)
        let rpc: RPCServer
        do {
            let state = self.state
            let zone = configuration.zone
            rpc = try await RPCServer.bind(
                host: configuration.bindHost, port: configuration.rpcPort, handler: RoutingRPCHandler(state: state, logger: logger),
                authenticator: authenticator, tls: serverTLS, identity: { RPCPeer(nodeID: await state.node?.id ?? -1, zone: zone) }, metrics: metrics, logger: logger
            )
        } catch {
            throw AgentError("cannot bind the RPC listener on \(configuration.bindHost):\(configuration.rpcPort): \(error); pick another --rpc-port", underlying: error)
        }
        let adminPort = PortPromise()
        let admin = Application(
            router: AdminRouter.build(state: state, metrics: metrics, secret: configuration.secret, logger: logger),
            // Probes and scrapers carry no client certificate; the records API asks for the secret.
            server: try tls.map { try .tls(tlsConfiguration: $0.serverConfiguration(clientAuth: TLSClientAuth.none)) } ?? .http1(),
            configuration: .init(address: .hostname(configuration.bindHost, port: configuration.adminPort), serverName: "amq-agent"),
            onServerRunning: { channel in await adminPort.fulfil(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let session = SessionService(
            session: ControllerSession(
                client: client, configuration: configuration, state: state, metrics: metrics, traffic: traffic, logger: logger
            ),
            configuration: configuration,
            kafkaPorts: zip(listeners, kafkaServers).map { ($0.name, $1.port) },
            rpcTLS: clientTLS,
            rpcPort: rpc.port,
            adminPort: adminPort,
            authenticator: authenticator,
            logger: logger
        )
        // Shutdown runs in reverse: the agent flushes its appends and leaves the controller first,
        // then stops coordinating groups and listening.
        let group = ServiceGroup(
            configuration: .init(
                services: kafkaServers.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) } + [
                    .init(service: rpc), .init(service: admin), .init(service: GroupCoordinatorService(coordinator: groups)),
                    .init(service: session),
                ] + (tls.map { [.init(service: TLSReloadService(materials: [$0], logger: logger))] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

/// Ticks the group coordinator's session and rebalance deadlines until shutdown.
struct GroupCoordinatorService: Service {
    let coordinator: GroupCoordinator

    func run() async throws {
        await cancelWhenGracefulShutdown { await coordinator.run() }
    }
}

/// The admin port, known once hummingbird has bound it.
actor PortPromise {
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    func fulfil(_ port: Int) {
        self.port = port
        for waiter in waiters { waiter.resume(returning: port) }
        waiters.removeAll()
    }

    func value() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

/// Registers once the listeners are bound, then heartbeats and watches until shutdown.
struct SessionService: Service {
    let session: ControllerSession
    let configuration: AgentConfiguration
    /// Each Kafka listener's name and bound port; the first is the primary one.
    let kafkaPorts: [(name: String, port: Int)]
    /// How this agent dials other agents' RPC listeners (nil: plaintext).
    let rpcTLS: TLSClientFiles?
    let rpcPort: Int
    let adminPort: PortPromise
    let authenticator: RPCAuthenticator
    let logger: Logger

    private func requireTopology() async throws -> TopologySnapshot {
        guard let topology = await session.state.topology else { throw AgentError("registered without a topology") }
        return topology
    }

    func run() async throws {
        let admin = await adminPort.value()
        logger.info("Admin listener bound", metadata: ["amq.port": "\(admin)"])
        let node = try await session.register(
            .init(
                nodeID: configuration.nodeID, name: configuration.nodeName, zone: configuration.zone,
                host: configuration.advertised, kafkaPort: kafkaPorts.first?.port, rpcPort: rpcPort, adminPort: admin,
                pid: Int(ProcessInfo.processInfo.processIdentifier),
                listeners: Dictionary(kafkaPorts.map { ($0.name, $0.port) }, uniquingKeysWith: { first, _ in first })
            )
        )
        // The storage engine for the partitions this node leads, on the cluster's object store.
        let topology = try await requireTopology()
        let store: any ObjectStore
        do {
            store = MeteredObjectStore(try ObjectStoreURL(topology.objectStoreURL).makeStore(logger: logger), ledger: session.traffic)
        } catch {
            throw AgentError("cannot open the cluster's object store \(topology.objectStoreURL): \(error)", underlying: error)
        }
        let engine = StorageEngine(configuration: StorageConfiguration(nodeID: node.id), store: store, index: session.client, logger: logger)
        // Zone routing: the RPC client to other agents, the router buffer for produces this agent
        // proxies, and the follower that keeps its read-only replicas current.
        let state = session.state
        let peers = try RPCClient(
            identity: RPCPeer(nodeID: node.id, zone: node.zone), authenticator: authenticator, tls: try rpcTLS?.configuration(),
            metrics: session.metrics, traffic: session.traffic,
            logger: logger,
            resolve: { id in
                guard let peer = await state.topology?.nodes.first(where: { $0.id == id }), let port = peer.rpcPort else { return nil }
                return RPCAddress(host: peer.host, port: port, zone: peer.zone)
            }
        )
        // Router objects are small and their produces wait on them: more may be in flight at once.
        var routerConfiguration = StorageConfiguration(nodeID: node.id)
        routerConfiguration.maxConcurrentUploads = 16
        let router = RouterWriter(
            nodeID: node.id, configuration: routerConfiguration, store: store, index: session.client, transport: RPCPointerTransport(client: peers),
            logger: logger, onRouted: { partition, offsets, batches in await engine.cacheRouted(partition, offsets: offsets, batches: batches) }
        )
        await state.attach(engine, router: router)
        await LeadershipSync.apply(topology, nodeID: node.id, engine: engine, router: router, logger: logger)

        // One line on stdout for whoever started us (scripts, tests): where everything listens.
        let line = #"{"event":"ready","nodeId":\#(node.id),"zone":"\#(node.zone)","kafkaPort":\#(kafkaPorts.first?.port ?? 0),"adminPort":\#(admin)}"#
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
        await withDiscardingTaskGroup { group in
            group.addTask { await peers.run() }
            group.addTask { await ProcessMemory.trimmingFreedMemory() }
            await withTaskGroup(of: Bool.self) { storage in
                storage.addTask {
                    await withDiscardingTaskGroup { running in
                        running.addTask { await engine.run() }
                        running.addTask { await router.run() }
                    }
                    return true
                }
                await cancelWhenGracefulShutdown {
                    await withDiscardingTaskGroup { loops in
                        loops.addTask { await session.heartbeatLoop(nodeID: node.id, engine: engine) }
                        loops.addTask { await session.watchLoop(nodeID: node.id, engine: engine) }
                        loops.addTask { await ReplicaFollower(state: state, client: peers, logger: logger).run() }
                        loops.addTask {
                            // Packet headers are sampled on the clock's grid, so minute buckets end where the kernel's do.
                            while !Task.isCancelled {
                                try? await SampleTicks.sleepUntilNext(period: TrafficSampling.period)
                                await session.traffic.sampleConnections()
                            }
                        }
                    }
                }
                // Flush what was taken before saying goodbye: produces routed to other zones'
                // leaders, and this agent's own appends; each run() returns once drained.
                await router.shutdown()
                await engine.shutdown()
                // …for a while: with the controller or the store gone, a stop must still end.
                let drain = engine.configuration.drainTimeout
                storage.addTask {
                    try? await Task.sleep(for: drain)
                    return false
                }
                if await storage.next() == false {
                    logger.warning("Gave up draining; appends not yet committed fail", metadata: ["amq.timeout": "\(drain)"])
                    await router.abandon()
                    await engine.abandon()
                }
                storage.cancelAll()
            }
            // Nothing more goes to the other agents.
            group.cancelAll()
        }
        // A controller that does not answer the last heartbeat will not hear the goodbye either.
        if await session.flushTraffic(nodeID: node.id) {
            await session.leave(nodeID: node.id)
        }
        logger.info("Agent left the cluster", metadata: ["amq.node.id": "\(node.id)"])
    }
}
