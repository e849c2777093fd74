import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Routes the agents' Kafka handlers call: producer ids (InitProducerId), consumer-group offsets
/// (OffsetCommit/OffsetFetch/DeleteGroups) and topic admin (CreateTopics/DeleteTopics/
/// CreatePartitions). Topic admin goes through the same ``TopologyStore`` functions as the CLI, so
/// it is validated, versioned and audited alike and `amq topic list` agrees with Kafka's admin API.
extension ControlRouter {
    /// The store, auditing changes under the Kafka principal the agent acts for, when it says.
    func store(acting request: Request) -> TopologyStore {
        guard let name = HTTPField.Name(ControlAPI.principalHeader), let principal = request.headers[name], !principal.isEmpty else { return store }
        return TopologyStore(database: store.database, actor: "kafka \(principal.prefix(300))")
    }

    func addKafkaRoutes(to api: RouterGroup<ControlRequestContext>) {
        api.post("acls") { request, context in
            let create = try await Self.decode(ControlAPI.CreateACLsRequest.self, request, context)
            let errors = try await store(acting: request).addACLs(cluster, create.bindings)
            return try Self.json(ControlAPI.CreateACLsResponse(errors: errors))
        }

        api.post("acls/delete") { request, context in
            let delete = try await Self.decode(ControlAPI.DeleteACLsRequest.self, request, context)
            let removed = try await store(acting: request).removeACLs(cluster, matching: delete.filters)
            return try Self.json(ControlAPI.DeleteACLsResponse(removed: removed))
        }

        api.post("producer-ids") { _, _ in
            let id = try await store.allocateProducerID(cluster)
            return try Self.json(ControlAPI.ProducerIDResponse(producerID: id, producerEpoch: 0))
        }

        api.post("topics") { request, context in
            let create = try await Self.decode(ControlAPI.CreateTopicRequest.self, request, context)
            var config = TopicConfig()
            for (key, value) in create.configs.sorted(by: { $0.key < $1.key }) {
                do {
                    try config.set(key, value)
                } catch let error as ControlPlaneError {
                    // Same check as `amq topic create --config`; re-coded so Kafka can say INVALID_CONFIG.
                    throw ControlPlaneError(.invalidConfig, error.message, underlying: error)
                }
            }
            let partitions = create.partitions == -1 ? try await store.cluster(cluster).settings.defaultPartitions : create.partitions
            let description = try await store(acting: request).createTopic(
                cluster, name: create.name, partitions: partitions, config: config, validateOnly: create.validateOnly
            )
            if !create.validateOnly {
                logger.notice(
                    "Topic created through the Kafka API",
                    metadata: ["kafka.topic": "\(create.name)", "amq.partitions": "\(partitions)"]
                )
            }
            return try Self.json(description, status: create.validateOnly ? .ok : .created)
        }

        api.delete("topics/:topic") { request, context in
            let name = try Self.pathParameter("topic", context)
            try await store(acting: request).deleteTopic(cluster, name: name)
            logger.notice("Topic deleted through the Kafka API", metadata: ["kafka.topic": "\(name)"])
            return Response(status: .noContent)
        }

        api.post("topics/:topic/partitions") { request, context in
            let name = try Self.pathParameter("topic", context)
            let grow = try await Self.decode(ControlAPI.CreatePartitionsRequest.self, request, context)
            let description = try await store(acting: request).createPartitions(cluster, topic: name, count: grow.count, validateOnly: grow.validateOnly)
            if !grow.validateOnly {
                logger.notice(
                    "Partitions added through the Kafka API",
                    metadata: ["kafka.topic": "\(name)", "amq.partitions": "\(grow.count)"]
                )
            }
            return try Self.json(description)
        }

        api.post("topics/:topic/configs") { request, context in
            let name = try Self.pathParameter("topic", context)
            let alter = try await Self.decode(ControlAPI.AlterTopicConfigsRequest.self, request, context)
            let current = try await store.describeTopic(cluster, name)
            // What stays set: with `replace`, only what the request names (route.enabled, amq's
            // own switch, is not a Kafka config and keeps its value).
            var reset = Set(alter.reset)
            if alter.replace {
                for key in current.topic.config.overriddenKeys where alter.set[key] == nil && key != TopicConfig.routeEnabledKey {
                    reset.insert(key)
                }
            }
            // Checked on a copy first, so a bad value changes nothing and reads as INVALID_CONFIG.
            var config = current.topic.config
            let setKeys = Set(current.topic.config.overriddenKeys)
            let resets = reset.sorted().filter { setKeys.contains($0) || TopicConfig.typedKeys.contains($0) }
            do {
                for key in resets { try config.reset(key) }
                for (key, value) in alter.set.sorted(by: { $0.key < $1.key }) { try config.set(key, value) }
            } catch let error as ControlPlaneError {
                throw ControlPlaneError(.invalidConfig, error.message, underlying: error)
            }
            guard !alter.validateOnly else {
                var preview = current
                preview.topic.config = config
                return try Self.json(preview)
            }
            let description = try await store(acting: request).alterTopic(
                cluster, name: name, set: alter.set.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }, reset: resets
            )
            logger.notice("Topic configs altered through the Kafka API", metadata: ["kafka.topic": "\(name)"])
            return try Self.json(description)
        }

        api.post("settings") { request, context in
            let alter = try await Self.decode(ControlAPI.AlterSettingsRequest.self, request, context)
            let defaults = ClusterSettings()
            var assignments = alter.set.sorted(by: { $0.key < $1.key }).map { (key: $0.key, value: $0.value) }
            for key in alter.reset.sorted() {
                guard let value = defaults.value(of: key) else {
                    throw ControlPlaneError(.invalidConfig, "unknown cluster setting \"\(key)\"")
                }
                assignments.append((key: key, value: value))
            }
            var preview = try await store.cluster(cluster).settings
            do {
                for (key, value) in assignments { try preview.set(key, value) }
            } catch let error as ControlPlaneError {
                throw ControlPlaneError(.invalidConfig, error.message, underlying: error)
            }
            if alter.validateOnly { return try Self.json(preview) }
            let settings = try await store(acting: request).updateSettings(cluster, assignments)
            logger.notice("Cluster settings altered through the Kafka API", metadata: ["amq.settings": "\(assignments.map(\.key))"])
            return try Self.json(settings)
        }

        api.get("groups") { _, _ in
            try Self.json(ControlAPI.GroupListResponse(groups: try await store.groupsWithOffsets(cluster)))
        }

        api.post("groups/:group/offsets") { request, context in
            let group = try Self.pathParameter("group", context)
            let commit = try await Self.decode(ControlAPI.CommitOffsetsRequest.self, request, context)
            let results = try await store.commitOffsets(cluster, group: group, commit.offsets)
            return try Self.json(ControlAPI.CommitOffsetsResponse(results: results))
        }

        api.get("groups/:group/offsets") { request, context in
            let group = try Self.pathParameter("group", context)
            let topics = request.uri.queryParameters.getAll("topic")
            let offsets = try await store.fetchOffsets(cluster, group: group, topics: topics.isEmpty ? nil : topics)
            return try Self.json(ControlAPI.GroupOffsetsResponse(group: group, offsets: offsets))
        }

        api.delete("groups/:group/offsets") { request, context in
            let group = try Self.pathParameter("group", context)
            let parameters = request.uri.queryParameters
            var partitions: [GroupPartitionRef]?
            if parameters.get("only") == "true" {
                partitions = try parameters.getAll("partition").map { text in
                    guard let colon = text.lastIndex(of: ":"), let index = Int(text[text.index(after: colon)...]) else {
                        throw HTTPError(.badRequest, message: "partition=\(text) is not topic:index")
                    }
                    return GroupPartitionRef(topic: String(text[..<colon]), partition: index)
                }
            }
            _ = try await store(acting: request).deleteOffsets(cluster, group: group, partitions: partitions)
            return Response(status: .noContent)
        }
    }

    /// A path parameter, percent-decoded (the router matches on the raw path; see
    /// ``ControlAPI/pathComponent(_:)``).
    static func pathParameter(_ name: String, _ context: ControlRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding else {
            throw HTTPError(.badRequest, message: "path parameter \(name) is not valid percent-encoding")
        }
        return decoded
    }
}
