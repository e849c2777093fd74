import AMQControlPlane
import AMQStorage
import AMQStreamIndex
import Logging
import NIOCore

/// Keeps this agent's read-only replicas current: for every routed topic's partition it
/// replicates, it long-polls the partition's leader for the committed end and the new segments
/// (metadata only — the bytes are read from the object store), one poll per leader for all its
/// partitions. Re-planned whenever the topology changes who leads or replicates what.
struct ReplicaFollower: Sendable {
    let state: AgentState
    let client: RPCClient
    let logger: Logger

    /// How long a leader may hold a poll open.
    static let pollWait: Int32 = 2000
    /// Between polls after a failure, or when the leader led none of them.
    static let retryDelay: Duration = .milliseconds(500)

    /// Per leader node, the partitions this agent replicates for it.
    typealias Plan = [Int: [PartitionKey]]

    func run() async {
        var current: Plan?
        var seen = -1
        while !Task.isCancelled {
            // The plan only changes with the topology: look again only when its version moves.
            guard let version = await changedVersion(since: seen) else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            seen = version
            let plan = await self.plan()
            guard plan != current else { continue }
            current = plan
            if !plan.isEmpty {
                logger.info("Following leaders for read-only replicas", metadata: ["amq.leaders": "\(plan.keys.sorted())", "amq.partitions": "\(plan.values.map(\.count).reduce(0, +))"])
            }
            await withTaskGroup(of: Void.self) { group in
                for (leader, partitions) in plan { group.addTask { await follow(leader, partitions) } }
                // Watches for a new plan; when it ends, the followers stop and the next plan starts.
                group.addTask {
                    var watched = version
                    while !Task.isCancelled {
                        if let newer = await changedVersion(since: watched) {
                            watched = newer
                            if await self.plan() != plan { return }
                        }
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// The topology version the agent holds, when it is not `version`.
    private func changedVersion(since version: Int) async -> Int? {
        guard let held = await state.topology?.version, held != version else { return nil }
        return held
    }

    /// What the current topology asks this agent to follow.
    func plan() async -> Plan {
        guard let topology = await state.topology, let node = await state.node else { return [:] }
        let routed = Dictionary(topology.topics.filter(\.config.routeEnabled).map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        let alive = Set(topology.nodes.filter { $0.liveness == .alive }.map(\.id))
        var plan: Plan = [:]
        for partition in topology.partitions where partition.replicas[node.zone] == node.id && partition.leader != node.id {
            guard let topicID = routed[partition.topic], alive.contains(partition.leader) else { continue }
            plan[partition.leader, default: []].append(PartitionKey(topicID: topicID, partition: partition.index))
        }
        return plan.mapValues { $0.sorted() }
    }

    private func follow(_ leader: Int, _ partitions: [PartitionKey]) async {
        while !Task.isCancelled {
            guard let storage = await state.storage else {
                try? await Task.sleep(for: Self.retryDelay)
                continue
            }
            var positions: [ReplicaPollRequest.PartitionPosition] = []
            for partition in partitions { positions.append(.init(partition: partition, knownEnd: await storage.knownEnd(partition))) }
            var body = ByteBuffer()
            ReplicaPollRequest(waitMs: Self.pollWait, positions: positions).encode(into: &body)
            do {
                var answer = try await client.call(.replicaPoll, body, to: leader).result()
                let response = try ReplicaPollResponse(from: &answer)
                var followed = 0
                for result in response.views {
                    guard case .view(let view) = result else { continue }
                    await storage.follow(view)
                    followed += 1
                }
                if followed == 0 { try? await Task.sleep(for: Self.retryDelay) }
            } catch {
                if Task.isCancelled { return }
                logger.debug("Replica poll failed; retrying", metadata: ["amq.node.id": "\(leader)", "amq.error": "\(error)"])
                try? await Task.sleep(for: Self.retryDelay)
            }
        }
    }
}
