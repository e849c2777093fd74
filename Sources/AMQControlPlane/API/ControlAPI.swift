import AMQSecurity
import AMQTraffic
import Foundation

/// The control API between agents (and the CLI) and the controller: JSON over HTTP.
///
/// Every `/v1` call carries the cluster secret as `Authorization: Bearer <secret>`; `/healthz`
/// alone is open, for load balancers and Kubernetes probes.
package enum ControlAPI {
    package static let secretHeader = "Authorization"
    /// The caller's zone (agents send it), so the controller counts their bytes by zone.
    package static let zoneHeader = "amq-zone"
    /// The Kafka principal an agent's admin call is made for; the audit log names it.
    package static let principalHeader = "amq-principal"
    /// Longest long-poll a caller may ask for.
    package static let maxWait: Duration = .seconds(60)

    package enum Path {
        package static let health = "/healthz"
        package static let register = "/v1/register"
        package static let heartbeat = "/v1/heartbeat"
        package static let leave = "/v1/leave"
        package static let topology = "/v1/topology"
        package static let commit = "/v1/commit"
        package static let uploads = "/v1/uploads"
        package static let partitionLog = "/v1/partition-log"
        package static let producerIDs = "/v1/producer-ids"
        package static let topics = "/v1/topics"
        package static let groups = "/v1/groups"
        package static let settings = "/v1/settings"
        package static let acls = "/v1/acls"
        package static let aclsDelete = "/v1/acls/delete"

        /// `/v1/topics/{name}`.
        package static func topic(_ name: String) -> String { "\(topics)/\(ControlAPI.pathComponent(name))" }
        /// `/v1/topics/{name}/configs`.
        package static func configs(_ topic: String) -> String { "\(Path.topic(topic))/configs" }
        /// `/v1/topics/{name}/partitions`.
        package static func partitions(_ topic: String) -> String { "\(Path.topic(topic))/partitions" }
        /// `/v1/groups/{group}/offsets`.
        package static func offsets(_ group: String) -> String { "\(groups)/\(ControlAPI.pathComponent(group))/offsets" }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, so a group id holding `/`,
    /// `?` or spaces stays one path segment. The router decodes it again.
    package static func pathComponent(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// A fresh producer id for InitProducerId.
    package struct ProducerIDResponse: Codable, Sendable, Equatable {
        package var producerID: Int64
        /// 0 for a fresh id; epochs are bumped by the transaction coordinator, not here.
        package var producerEpoch: Int16

        package init(producerID: Int64, producerEpoch: Int16) {
            self.producerID = producerID
            self.producerEpoch = producerEpoch
        }
    }

    /// Kafka's CreateTopics for one topic, made by an agent on the controller.
    package struct CreateTopicRequest: Codable, Sendable, Equatable {
        package var name: String
        /// -1 takes the cluster's `default.partitions` (CreateTopics v4+ `NumPartitions = -1`).
        package var partitions: Int
        /// Kafka topic configs by name, validated like `amq topic create --config`.
        package var configs: [String: String]
        package var validateOnly: Bool

        package init(name: String, partitions: Int, configs: [String: String] = [:], validateOnly: Bool = false) {
            self.name = name
            self.partitions = partitions
            self.configs = configs
            self.validateOnly = validateOnly
        }
    }

    /// Kafka's CreatePartitions for one topic: grow it to `count` partitions.
    package struct CreatePartitionsRequest: Codable, Sendable, Equatable {
        package var count: Int
        package var validateOnly: Bool

        package init(count: Int, validateOnly: Bool = false) {
            self.count = count
            self.validateOnly = validateOnly
        }
    }

    /// Kafka's AlterConfigs / IncrementalAlterConfigs for one topic: `set` and `reset` (to the
    /// default) as `amq topic alter --config` / `--delete-config` do; `replace` resets every other
    /// config set on the topic (AlterConfigs replaces the whole set).
    package struct AlterTopicConfigsRequest: Codable, Sendable, Equatable {
        package var set: [String: String]
        package var reset: [String]
        package var replace: Bool
        package var validateOnly: Bool

        package init(set: [String: String], reset: [String], replace: Bool, validateOnly: Bool) {
            self.set = set
            self.reset = reset
            self.replace = replace
            self.validateOnly = validateOnly
        }
    }

    /// Cluster settings changed through Kafka's broker configs (`reset`: back to the default).
    package struct AlterSettingsRequest: Codable, Sendable, Equatable {
        package var set: [String: String]
        package var reset: [String]
        package var validateOnly: Bool

        package init(set: [String: String], reset: [String], validateOnly: Bool) {
            self.set = set
            self.reset = reset
            self.validateOnly = validateOnly
        }
    }

    /// Kafka's CreateAcls.
    package struct CreateACLsRequest: Codable, Sendable, Equatable {
        package var bindings: [ACLBinding]
    }

    /// Per binding, nil or why it was refused.
    package struct CreateACLsResponse: Codable, Sendable, Equatable {
        package var errors: [String?]
    }

    /// Kafka's DeleteAcls.
    package struct DeleteACLsRequest: Codable, Sendable, Equatable {
        package var filters: [ACLFilter]
    }

    /// Per filter, the ACLs it removed.
    package struct DeleteACLsResponse: Codable, Sendable, Equatable {
        package var removed: [[ACLBinding]]
    }

    package struct CommitOffsetsRequest: Codable, Sendable, Equatable {
        package var offsets: [GroupOffset]

        package init(offsets: [GroupOffset]) { self.offsets = offsets }
    }

    package struct CommitOffsetsResponse: Codable, Sendable, Equatable {
        /// One per committed entry, in request order.
        package var results: [GroupOffsetResult]
    }

    package struct GroupOffsetsResponse: Codable, Sendable, Equatable {
        package var group: String
        package var offsets: [GroupOffset]
    }

    package struct GroupListResponse: Codable, Sendable, Equatable {
        package var groups: [String]
    }

    package struct RegisterResponse: Codable, Sendable {
        package var node: NodeInfo
        package var topology: TopologySnapshot
    }

    package struct HeartbeatRequest: Codable, Sendable {
        package var nodeID: Int
        package var ackedVersion: Int?
        package var pid: Int?
        /// Traffic counts not yet acknowledged (docs/traffic.md).
        package var traffic: [TrafficBatch]?
        package init(nodeID: Int, ackedVersion: Int?, pid: Int?, traffic: [TrafficBatch]? = nil) {
            self.nodeID = nodeID
            self.ackedVersion = ackedVersion
            self.pid = pid
            self.traffic = traffic
        }
    }

    package struct HeartbeatResponse: Codable, Sendable {
        package var topologyVersion: Int
        /// Every traffic batch up to this sequence is applied.
        package var trafficAcknowledged: Int64?
    }

    package struct LeaveRequest: Codable, Sendable {
        package var nodeID: Int
        package init(nodeID: Int) { self.nodeID = nodeID }
    }

    package struct HealthResponse: Codable, Sendable {
        package var status: String
        package var cluster: String
        package var topologyVersion: Int
    }

    /// An error body: the control-plane error code and its operator-facing message.
    package struct ErrorBody: Codable, Sendable {
        package var code: ControlPlaneError.Code
        package var message: String
    }

    package static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    package static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// The cluster secret: generated by `amq cluster create`, kept in a mode-0600 file, handed to
/// the controller and agents by file or by `AMQ_CLUSTER_SECRET`. Its `description` is redacted
/// so it cannot reach a log by accident.
package struct ClusterSecret: Sendable, Equatable, CustomStringConvertible {
    package let value: String

    package init(_ value: String) throws(ControlPlaneError) {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 16 else {
            throw ControlPlaneError(.invalidArgument, "the cluster secret must be at least 16 characters")
        }
        self.value = trimmed
    }

    package var description: String { "<redacted>" }

    /// Whether an `Authorization` header carries this secret as a bearer token.
    package func isPresented(in authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return matches(String(authorization.dropFirst(7)))
    }

    package static let environmentVariable = "AMQ_CLUSTER_SECRET"

    /// 32 random bytes, hex.
    package static func generate() -> ClusterSecret {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        // 64 hex characters always pass the length check.
        return ClusterSecret(unchecked: hex)
    }

    private init(unchecked value: String) { self.value = value }

    /// Writes the secret to `path` with mode 0600 (never wider), creating directories.
    package func write(to path: String) throws(ControlPlaneError) {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            try Data((value + "\n").utf8).write(to: url)
        } catch {
            throw ControlPlaneError(.databaseFailure, "cannot write the cluster secret to \(path): \(error.localizedDescription)", underlying: error)
        }
    }

    /// Reads the secret from `file`, else from `AMQ_CLUSTER_SECRET`.
    package static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ControlPlaneError) -> ClusterSecret {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ControlPlaneError(.invalidArgument, "cannot read the cluster secret file \(file); check --secret-file")
            }
            return try ClusterSecret(String(decoding: data, as: UTF8.self))
        }
        if let value = environment[environmentVariable] {
            return try ClusterSecret(value)
        }
        throw ControlPlaneError(
            .invalidArgument,
            "no cluster secret: pass --secret-file PATH (the 'secret' file in the cluster's data directory) or set \(environmentVariable)"
        )
    }

    /// Compares in time independent of where the strings differ.
    package func matches(_ candidate: String) -> Bool {
        let a = Array(value.utf8)
        let b = Array(candidate.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
