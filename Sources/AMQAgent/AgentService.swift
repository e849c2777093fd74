import AMQControlPlane
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A node agent: binds its listeners, registers with the controller, heartbeats and follows the
/// topology until SIGTERM or SIGINT, then leaves cleanly.
package struct AgentService: Sendable {
    package let configuration: AgentConfiguration
    package let state = AgentState()
    package let metrics = AgentMetrics()
    let logger: Logger

    package init(configuration: AgentConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    package func run() async throws {
        let client = try ControlClient(baseURL: configuration.controllerURL, secret: configuration.secret)
        let kafka: KafkaListener
        do {
            kafka = try await KafkaListener.bind(host: configuration.bindHost, port: configuration.kafkaPort, logger: logger)
        } catch {
            throw AgentError("cannot bind the Kafka listener on \(configuration.bindHost):\(configuration.kafkaPort): \(error); pick another --kafka-port", underlying: error)
        }
        let adminPort = PortPromise()
        let admin = Application(
            router: AdminRouter.build(state: state, metrics: metrics),
            configuration: .init(address: .hostname(configuration.bindHost, port: configuration.adminPort), serverName: "amq-agent"),
            onServerRunning: { channel in await adminPort.fulfil(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let session = SessionService(
            session: ControllerSession(client: client, configuration: configuration, state: state, metrics: metrics, logger: logger),
            configuration: configuration,
            kafkaPort: kafka.port,
            adminPort: adminPort,
            logger: logger
        )
        // Shutdown runs in reverse: the agent leaves the controller first, then stops listening.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: kafka), .init(service: admin), .init(service: session)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
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
    let kafkaPort: Int
    let adminPort: PortPromise
    let logger: Logger

    func run() async throws {
        let admin = await adminPort.value()
        logger.info("Admin listener bound", metadata: ["amq.port": "\(admin)"])
        let node = try await session.register(
            .init(
                nodeID: configuration.nodeID, name: configuration.nodeName, zone: configuration.zone,
                host: configuration.advertised, kafkaPort: kafkaPort, rpcPort: nil, adminPort: admin,
                pid: Int(ProcessInfo.processInfo.processIdentifier)
            )
        )
        // One line on stdout for whoever started us (scripts, tests): where everything listens.
        let line = #"{"event":"ready","nodeId":\#(node.id),"zone":"\#(node.zone)","kafkaPort":\#(kafkaPort),"adminPort":\#(admin)}"#
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await session.heartbeatLoop(nodeID: node.id) }
                group.addTask { await session.watchLoop() }
            }
        }
        await session.leave(nodeID: node.id)
        logger.info("Agent left the cluster", metadata: ["amq.node.id": "\(node.id)"])
    }
}
