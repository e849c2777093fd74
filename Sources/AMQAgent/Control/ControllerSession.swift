import AMQControlPlane
import AMQStorage
import AMQTraffic
import Foundation
import Logging
import Synchronization

/// The agent's side of the control API: registers, heartbeats, follows the topology by long-poll,
/// and says goodbye on graceful shutdown.
final class ControllerSession: Sendable {
    let client: ControlClient
    let configuration: AgentConfiguration
    let state: AgentState
    let metrics: AgentMetrics
    /// This agent's traffic counts, shipped with each heartbeat.
    let traffic: TrafficLedger
    /// What has been shipped and not yet acknowledged; one per agent process.
    let shipper: Mutex<TrafficShipper>
    let logger: Logger

    init(client: ControlClient, configuration: AgentConfiguration, state: AgentState, metrics: AgentMetrics, traffic: TrafficLedger, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.state = state
        self.metrics = metrics
        self.traffic = traffic
        self.shipper = Mutex(TrafficShipper(origin: UUID().uuidString))
        self.logger = logger
    }

    /// Registers, retrying with backoff until `registerTimeout`; then the controller is unreachable.
    func register(_ registration: TopologyStore.Registration) async throws -> NodeInfo {
        let deadline = ContinuousClock.now + configuration.registerTimeout
        var delay = Duration.milliseconds(100)
        while true {
            do {
                // Bound each attempt by what is left, or a slow answer would overrun a short
                // --register-timeout.
                let remaining = max(deadline - ContinuousClock.now, .milliseconds(100))
                let response = try await client.register(registration, timeout: min(remaining, .seconds(10)))
                await state.registered(as: response.node, topology: response.topology)
                metrics.topologyApplied(
                    version: response.topology.version, routedTopics: response.topology.topics.filter(\.config.routeEnabled).count
                )
                logger.notice(
                    "Registered with the controller",
                    metadata: [
                        "amq.node.id": "\(response.node.id)", "amq.zone": "\(response.node.zone)",
                        "amq.topology.version": "\(response.topology.version)",
                    ]
                )
                return response.node
            } catch let error as ControlPlaneError where error.code == .controllerUnreachable || error.code == .databaseLocked {
                guard ContinuousClock.now + delay < deadline else { throw error }
                logger.info("Controller not reachable yet; retrying", metadata: ["amq.error": "\(error.message)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Heartbeats every `heartbeatIntervalMs` until cancelled, carrying the traffic counted since
    /// (and any not yet acknowledged: `TrafficShipper`); after each, re-checks that the storage
    /// engine leads what the topology says.
    func heartbeatLoop(nodeID: Int, engine: StorageEngine) async {
        while !Task.isCancelled {
            let interval = (await state.topology?.settings.heartbeatIntervalMs) ?? 1000
            try? await Task.sleep(for: .milliseconds(interval))
            if Task.isCancelled { return }
            let start = ContinuousClock.now
            do {
                try await heartbeat(nodeID: nodeID)
                metrics.heartbeatSucceeded(after: ContinuousClock.now - start)
                if let topology = await state.topology {
                    await LeadershipSync.apply(topology, nodeID: nodeID, engine: engine, router: await state.router, logger: logger)
                }
            } catch {
                metrics.heartbeatFailed()
                logger.warning("Heartbeat failed", metadata: ["amq.error": "\(error)"])
            }
        }
    }

    /// One heartbeat, carrying the traffic counted since the last (and any batch not yet
    /// acknowledged: `TrafficShipper`).
    private func heartbeat(nodeID: Int, timeout: Duration = .seconds(10)) async throws {
        // Everything counted before `through` is in what is taken now.
        let through = traffic.now
        await traffic.sampleConnections()
        let batches = shipper.withLock { shipper in
            shipper.add(traffic.take())
            return shipper.batchesToSend(now: through)
        }
        let response = try await client.heartbeat(
            .init(nodeID: nodeID, ackedVersion: await state.topology?.version, pid: Int(ProcessInfo.processInfo.processIdentifier), traffic: batches),
            timeout: timeout
        )
        if let sequence = response.trafficAcknowledged { shipper.withLock { $0.acknowledged(through: sequence) } }
    }

    /// Ships what is left to count before the agent leaves, so a clean stop loses no counts.
    /// Briefly: a stop must end (within `amq cluster stop`'s 10 s) even with the controller gone.
    /// Returns whether the controller answered.
    @discardableResult
    func flushTraffic(nodeID: Int) async -> Bool {
        // Not cancelled with the agent's tasks, like the goodbye below.
        let call = Task { try await heartbeat(nodeID: nodeID, timeout: .seconds(2)) }
        do {
            try await call.value
            return true
        } catch {
            logger.warning("Could not ship the last traffic counts", metadata: ["amq.error": "\(error)"])
            return false
        }
    }

    /// Follows the topology by long-poll until cancelled, logging each change and handing
    /// partition leadership to the storage engine.
    func watchLoop(nodeID: Int, engine: StorageEngine) async {
        while !Task.isCancelled {
            let version = (await state.topology?.version) ?? -1
            do {
                guard let snapshot = try await client.topology(after: version, wait: configuration.topologyWait) else { continue }
                if case .some(let old) = await state.update(snapshot) {
                    apply(snapshot, replacing: old)
                    await LeadershipSync.apply(snapshot, nodeID: nodeID, engine: engine, router: await state.router, logger: logger)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("Topology watch failed; retrying", metadata: ["amq.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func apply(_ snapshot: TopologySnapshot, replacing old: TopologySnapshot?) {
        metrics.topologyApplied(version: snapshot.version, routedTopics: snapshot.topics.filter(\.config.routeEnabled).count)
        logger.info("Topology updated", metadata: ["amq.topology.version": "\(snapshot.version)"])
        let before = Dictionary((old?.topics ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for topic in snapshot.topics {
            guard let previous = before[topic.name] else {
                logger.info("Topic added", metadata: ["kafka.topic": "\(topic.name)", "amq.partitions": "\(topic.partitions)"])
                continue
            }
            if previous.config.routeEnabled != topic.config.routeEnabled {
                logger.notice(
                    "Topic routing switched",
                    metadata: ["kafka.topic": "\(topic.name)", "amq.route.enabled": "\(topic.config.routeEnabled)"]
                )
            }
        }
        for name in before.keys where !snapshot.topics.contains(where: { $0.name == name }) {
            logger.info("Topic removed", metadata: ["kafka.topic": "\(name)"])
        }
    }

    /// Says goodbye even when the agent stops by cancellation (a failed sibling service, a test),
    /// not only by SIGTERM: the call runs in a task of its own that is awaited, so it finishes
    /// within its short timeout instead of being torn down half-sent.
    func leave(nodeID: Int) async {
        let client = self.client
        let call = Task { try await client.leave(nodeID: nodeID, timeout: .seconds(2)) }
        do {
            try await call.value
        } catch {
            logger.warning("Could not tell the controller this agent is leaving", metadata: ["amq.error": "\(error)"])
        }
    }
}
