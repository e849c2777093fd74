import AMQControlPlane
import AMQStorage
import Foundation

/// What the agent currently knows: who it is and the newest topology it holds.
package actor AgentState {
    package private(set) var node: NodeInfo?
    package private(set) var topology: TopologySnapshot?
    /// The topology indexed for request handling, rebuilt with each new version.
    private(set) var lookup: TopologyLookup?
    /// The storage engine, once the agent has registered and opened the object store.
    package private(set) var storage: StorageEngine?
    /// Where produces this agent proxies for other zones' leaders go (zone routing).
    package private(set) var router: RouterWriter?
    /// Who serves which partition to which zone, rebuilt with each topology version.
    private(set) var routing: ZoneRouting?
    package let startedAt = ContinuousClock.now

    package init() {}

    func attach(_ engine: StorageEngine, router: RouterWriter) {
        storage = engine
        self.router = router
    }

    func registered(as node: NodeInfo, topology: TopologySnapshot) {
        self.node = node
        self.topology = topology
        lookup = TopologyLookup(topology)
        routing = ZoneRouting(topology: topology, me: node.id)
    }

    /// Keeps the newer of the held and the given snapshot; returns the replaced one when it changed.
    package func update(_ snapshot: TopologySnapshot) -> TopologySnapshot?? {
        guard snapshot.version > (topology?.version ?? -1) else { return .none }
        let old = topology
        topology = snapshot
        lookup = TopologyLookup(snapshot)
        if let node, let updated = snapshot.nodes.first(where: { $0.id == node.id }) {
            self.node = updated
        }
        if let node { routing = ZoneRouting(topology: snapshot, me: node.id) }
        return .some(old)
    }

    /// What a Kafka request is handled with, in one call (one hop onto this actor per request,
    /// not one per part); nil until registered.
    func brokerView() -> BrokerView? {
        guard let topology, let lookup, let node, let routing else { return nil }
        return BrokerView(topology: topology, lookup: lookup, node: node, storage: storage, router: router, routing: routing)
    }

    /// Ready once registered and holding a topology.
    package var isReady: Bool { node != nil && topology != nil }

    package var uptimeSeconds: Double {
        let elapsed = ContinuousClock.now - startedAt
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The agent's view for its admin endpoint: its identity and, per topic, the routing switch and
    /// what this node leads or replicates.
    package func view() -> AgentView {
        let nodeID = node?.id
        let topics = (topology?.topics ?? []).map { topic in
            let partitions = (topology?.partitions ?? []).filter { $0.topic == topic.name }
            return AgentView.Topic(
                name: topic.name,
                routeEnabled: topic.config.routeEnabled,
                partitions: topic.partitions,
                leaderOf: partitions.filter { $0.leader == nodeID }.map(\.index),
                replicaOf: partitions.filter { $0.replicas.values.contains { $0 == nodeID } }.map(\.index)
            )
        }
        return AgentView(
            nodeID: nodeID, zone: node?.zone, ready: isReady, topologyVersion: topology?.version,
            uptimeSeconds: uptimeSeconds, topics: topics
        )
    }
}

/// The agent's state as `/v1/state` shows it.
package struct AgentView: Codable, Sendable, Equatable {
    package struct Topic: Codable, Sendable, Equatable {
        package var name: String
        package var routeEnabled: Bool
        package var partitions: Int
        package var leaderOf: [Int]
        package var replicaOf: [Int]
    }

    package var nodeID: Int?
    package var zone: String?
    package var ready: Bool
    package var topologyVersion: Int?
    package var uptimeSeconds: Double
    package var topics: [Topic]
}
