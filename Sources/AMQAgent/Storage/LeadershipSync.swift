import AMQControlPlane
import AMQStorage
import AMQStreamIndex
import Logging

/// Makes the storage engine lead exactly the partitions the topology gives this node, under their
/// current epochs. Runs after every topology change and every heartbeat, so a partition whose
/// take-over failed (the controller briefly unreachable) is retried without waiting for the next
/// change; for partitions already led under the same epoch it costs nothing.
enum LeadershipSync {
    static func apply(_ snapshot: TopologySnapshot, nodeID: Int, engine: StorageEngine, router: RouterWriter?, logger: Logger) async {
        // The PUT budgets of early seals: the WAL's, and the router buffer's (0, the default,
        // none: zone routing's break-even, docs/traffic.md, counts on few router objects).
        await engine.setPutBudget(snapshot.settings.walMaxPutsPerSecond)
        let routerBudget = snapshot.settings.routerMaxPutsPerSecond
        await router?.setPutBudget(routerBudget > 0 ? routerBudget : nil)
        // The memory budget, shared by the WAL, the caches and the router buffer.
        let budget = MemoryBudget(total: snapshot.settings.agentMemoryBytes)
        await engine.setMemoryBudget(budget)
        await router?.setMemoryLimit(budget.routerBytes)
        let topicIDs = Dictionary(snapshot.topics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var wanted: [PartitionKey: (epoch: Int, linger: Duration)] = [:]
        var leaders: [PartitionKey: Int] = [:]
        for partition in snapshot.partitions {
            guard let topic = topicIDs[partition.topic] else { continue }
            let key = PartitionKey(topicID: topic.id, partition: partition.index)
            leaders[key] = partition.leader
            if partition.leader == nodeID {
                wanted[key] = (partition.leaderEpoch, .milliseconds(topic.config.lingerMs))
            }
        }
        for key in await engine.ledPartitions where wanted[key] == nil {
            await engine.resign(key, leader: leaders[key])
            logger.info("Resigned partition leadership", metadata: ["amq.partition": "\(key)", "amq.leader": "\(leaders[key].map(String.init) ?? "none")"])
        }
        for (key, lead) in wanted.sorted(by: { $0.key < $1.key }) {
            do {
                try await engine.becomeLeader(key, epoch: lead.epoch, linger: lead.linger)
            } catch {
                logger.warning("Cannot take partition leadership yet; will retry", metadata: ["amq.partition": "\(key)", "amq.error": "\(error)"])
            }
        }
    }
}
