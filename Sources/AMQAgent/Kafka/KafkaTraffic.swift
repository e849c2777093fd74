import AMQKafkaProtocol
import AMQTraffic
import NIOCore
import Synchronization

extension ApiKey {
    /// The traffic category of a request and its response (docs/traffic.md). ListOffsets and
    /// OffsetForLeaderEpoch serve a consumer's position, so they are fetch traffic; InitProducerId
    /// starts a producer.
    var trafficCategory: TrafficCategory {
        switch self {
        case .produce, .initProducerId: .produce
        case .fetch, .listOffsets, .offsetForLeaderEpoch: .fetch
        case .metadata, .apiVersions, .describeCluster, .saslHandshake, .saslAuthenticate: .metadata
        case .findCoordinator, .joinGroup, .syncGroup, .heartbeat, .leaveGroup, .offsetCommit, .offsetFetch, .listGroups,
            .describeGroups, .deleteGroups, .offsetDelete:
            .group
        case .createTopics, .deleteTopics, .createPartitions, .describeConfigs, .deleteRecords, .alterConfigs, .incrementalAlterConfigs,
            .electLeaders, .listPartitionReassignments, .describeAcls, .createAcls, .deleteAcls:
            .admin
        }
    }
}

extension KafkaRequestBody {
    /// How a request's bytes split between topics: a produce by its records, a fetch or offsets
    /// lookup evenly over the topics it names; anything else belongs to no topic.
    var topicWeights: [(String, Int)] {
        switch self {
        case .produce(let body):
            body.topicData.map { topic in (topic.name, topic.partitionData.reduce(0) { $0 + ($1.records?.readableBytes ?? 0) }) }
        case .fetch(let body): body.topics.map { ($0.topic, 1) }
        case .listOffsets(let body): body.topics.map { ($0.name, 1) }
        default: []
        }
    }
}

extension FetchResponse {
    /// A fetch response's bytes split by the records each topic carries.
    var topicWeights: [(String, Int)] {
        responses.map { topic in (topic.topic, topic.partitions.reduce(0) { $0 + ($1.records?.readableBytes ?? 0) }) }
    }
}

/// What one request's response is counted as: its category, set when the request is read, and,
/// for a fetch, how the response splits between topics, set when it is made.
final class ResponseTraffic: Sendable {
    private let state = Mutex<(category: TrafficCategory, topics: [(String, Int)])>((.metadata, []))

    var category: TrafficCategory {
        get { state.withLock { $0.category } }
        set { state.withLock { $0.category = newValue } }
    }

    var topics: [(String, Int)] {
        get { state.withLock { $0.topics } }
        set { state.withLock { $0.topics = newValue } }
    }
}
