import AMQSecurity
import AMQStreamIndex
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The control API's client, used by agents and by CLI commands that talk to a running controller.
package struct ControlClient: Sendable {
    package let baseURL: String
    let secret: ClusterSecret
    let httpClient: HTTPClient
    /// The caller's zone, sent with each request (``ControlAPI/zoneHeader``).
    let zone: String?
    /// The Kafka principal an agent acts for (``ControlAPI/principalHeader``): admin calls made for
    /// a client are audited under its name.
    package private(set) var principal: String?

    /// The HTTP client control calls use: a refused connection fails the call at once. Every
    /// caller retries on its own schedule (commits at most a second apart); AsyncHTTPClient's
    /// shared client would instead keep re-dialling with a growing backoff until the call's
    /// timeout, holding a commit seconds after a restarted controller is back (issue 11).
    package static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// HTTP clients for https controllers, one per trust configuration for the life of the
    /// process (AsyncHTTPClient requires a client to be shut down before it goes away).
    private static let tlsClients = Mutex<[TLSClientFiles: HTTPClient]>([:])

    /// The HTTP client for a controller whose certificate chains to `tls`'s CA, presenting
    /// `tls`'s certificate when it has one (mutual TLS).
    package static func httpClient(tls: TLSClientFiles) throws(ControlPlaneError) -> HTTPClient {
        let configuration: TLSConfiguration
        do {
            configuration = try tls.configuration()
        } catch {
            throw ControlPlaneError(.invalidArgument, error.message)
        }
        return tlsClients.withLock { clients in
            if let client = clients[tls] { return client }
            var http = HTTPClient.Configuration.singletonConfiguration
            http.connectionPool.retryConnectionEstablishment = false
            http.timeout.connect = .seconds(5)
            http.tlsConfiguration = configuration
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
            clients[tls] = client
            return client
        }
    }

    /// A client of the controller at `baseURL`: for an https URL, trusting `tls`'s CA (the
    /// system's without one) and presenting its certificate when it has one; `tls` is unused for http.
    package init(baseURL: String, secret: ClusterSecret, zone: String? = nil, tls: TLSClientFiles?) throws(ControlPlaneError) {
        let httpClient = baseURL.hasPrefix("https:") ? try Self.httpClient(tls: tls ?? TLSClientFiles(caFile: nil)) : Self.defaultHTTPClient
        try self.init(baseURL: baseURL, secret: secret, zone: zone, httpClient: httpClient)
    }

    /// The same client, telling the controller it acts for `principal`.
    package func acting(as principal: String?) -> ControlClient {
        var copy = self
        copy.principal = principal
        return copy
    }

    package init(baseURL: String, secret: ClusterSecret, zone: String? = nil, httpClient: HTTPClient = ControlClient.defaultHTTPClient) throws(ControlPlaneError) {
        guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ControlPlaneError(
                .invalidArgument,
                "controller URL \"\(baseURL)\" is malformed; write it like http://127.0.0.1:7070"
            )
        }
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.secret = secret
        self.zone = zone
        self.httpClient = httpClient
    }

    package func health(timeout: Duration = .seconds(5)) async throws -> ControlAPI.HealthResponse {
        try await call(.GET, ControlAPI.Path.health, body: Optional<Int>.none, timeout: timeout)
    }

    package func register(_ registration: TopologyStore.Registration, timeout: Duration = .seconds(10)) async throws -> ControlAPI.RegisterResponse {
        try await call(.POST, ControlAPI.Path.register, body: registration, timeout: timeout)
    }

    /// Commits an uploaded object's ranges; see ``TopologyStore/commit(_:_:)``.
    /// A request the controller refuses as such (malformed, too large) is ``StreamIndexError/Code/refused``.
    package func commit(_ request: CommitRequest) async throws -> CommitResponse {
        do {
            return try await call(.POST, ControlAPI.Path.commit, body: request)
        } catch let error as ControlPlaneError where error.isUsageError {
            throw StreamIndexError(.refused, "the controller refused the commit of \(request.objectKey): \(error.message)", underlying: error)
        }
    }

    /// Keys to upload to, recorded as upload intents (``PartitionIndex/reserveUploads(_:nodeID:count:)``).
    func requestUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String] {
        let response: ControlAPI.UploadsResponse = try await call(
            .POST, ControlAPI.Path.uploads, body: ControlAPI.UploadsRequest(kind: kind, nodeID: nodeID, count: count)
        )
        return response.keys
    }

    /// The partition's log as the index holds it (``PartitionIndex/partitionLog(_:from:limit:)``).
    func fetchPartitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState {
        let path = "\(ControlAPI.Path.partitionLog)?topic=\(partition.topicID)&partition=\(partition.partition)&from=\(from)&limit=\(limit)"
        return try await call(.GET, path, body: Optional<Int>.none)
    }

    /// Moves a partition's log start up (Kafka's DeleteRecords); returns the log start after it.
    func requestDeleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        let response: ControlAPI.DeleteRecordsResponse = try await call(
            .POST, ControlAPI.Path.deleteRecords, body: ControlAPI.DeleteRecordsRequest(partition: partition, before: offset)
        )
        return response.logStartOffset
    }

    package func heartbeat(_ heartbeat: ControlAPI.HeartbeatRequest, timeout: Duration = .seconds(10)) async throws -> ControlAPI.HeartbeatResponse {
        try await call(.POST, ControlAPI.Path.heartbeat, body: heartbeat, timeout: timeout)
    }

    package func leave(nodeID: Int, timeout: Duration = .seconds(10)) async throws {
        let _: Empty? = try await callOptional(.POST, ControlAPI.Path.leave, body: ControlAPI.LeaveRequest(nodeID: nodeID), timeout: timeout)
    }

    /// Long-polls for a topology newer than `version`; nil when none came within `wait`.
    package func topology(after version: Int, wait: Duration) async throws -> TopologySnapshot? {
        let waitMs = wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000
        return try await callOptional(
            .GET, "\(ControlAPI.Path.topology)?after=\(version)&waitMs=\(waitMs)", body: Optional<Int>.none,
            timeout: wait + .seconds(10)
        )
    }

    // MARK: Kafka broker state

    /// A fresh producer id for InitProducerId; see ``TopologyStore/allocateProducerID(_:)``.
    package func allocateProducerID() async throws -> ControlAPI.ProducerIDResponse {
        try await call(.POST, ControlAPI.Path.producerIDs, body: Optional<Int>.none)
    }

    /// Creates a topic (Kafka's CreateTopics). Errors come back as ``ControlPlaneError`` with the
    /// store's code: `topicExists`, `invalidTopicName`, `invalidPartitions`, `invalidConfig`.
    /// - Parameter partitions: -1 takes the cluster's `default.partitions`.
    package func createTopic(
        name: String, partitions: Int, configs: [String: String] = [:], validateOnly: Bool = false
    ) async throws -> TopologyStore.TopicDescription {
        let request = ControlAPI.CreateTopicRequest(name: name, partitions: partitions, configs: configs, validateOnly: validateOnly)
        return try await call(.POST, ControlAPI.Path.topics, body: request)
    }

    /// Deletes a topic (Kafka's DeleteTopics); `topicNotFound` if there is none.
    package func deleteTopic(name: String) async throws {
        let _: Empty? = try await callOptional(.DELETE, ControlAPI.Path.topic(name), body: Optional<Int>.none)
    }

    /// Grows a topic to `count` partitions (Kafka's CreatePartitions); `invalidPartitions` unless
    /// `count` is above the current count.
    package func createPartitions(topic: String, count: Int, validateOnly: Bool = false) async throws -> TopologyStore.TopicDescription {
        try await call(.POST, ControlAPI.Path.partitions(topic), body: ControlAPI.CreatePartitionsRequest(count: count, validateOnly: validateOnly))
    }

    /// Changes a topic's configs (Kafka's AlterConfigs / IncrementalAlterConfigs); errors come back
    /// with the store's code (`topicNotFound`, `invalidConfig`).
    package func alterTopicConfigs(_ topic: String, _ request: ControlAPI.AlterTopicConfigsRequest) async throws -> TopologyStore.TopicDescription {
        try await call(.POST, ControlAPI.Path.configs(topic), body: request)
    }

    /// Changes cluster settings (Kafka's broker configs); returns them as they are after.
    package func alterSettings(_ request: ControlAPI.AlterSettingsRequest) async throws -> ClusterSettings {
        try await call(.POST, ControlAPI.Path.settings, body: request)
    }

    /// Commits offsets of `group`; one result per entry, in order.
    package func commitOffsets(group: String, _ offsets: [GroupOffset]) async throws -> [GroupOffsetResult] {
        let response: ControlAPI.CommitOffsetsResponse = try await call(
            .POST, try Self.offsetsPath(group), body: ControlAPI.CommitOffsetsRequest(offsets: offsets)
        )
        return response.results
    }

    /// The offsets `group` committed for `topics` (nil: all topics); uncommitted partitions are absent.
    package func fetchOffsets(group: String, topics: [String]?) async throws -> [GroupOffset] {
        var path = try Self.offsetsPath(group)
        if let topics {
            // Kafka distinguishes "all topics" (null) from "none" (empty); the query cannot.
            guard !topics.isEmpty else { return [] }
            path += "?" + topics.map { "topic=\(ControlAPI.pathComponent($0))" }.joined(separator: "&")
        }
        let response: ControlAPI.GroupOffsetsResponse = try await call(.GET, path, body: Optional<Int>.none)
        return response.offsets
    }

    /// Groups with committed offsets.
    package func listOffsetGroups() async throws -> [String] {
        let response: ControlAPI.GroupListResponse = try await call(.GET, ControlAPI.Path.groups, body: Optional<Int>.none)
        return response.groups
    }

    /// Forgets every committed offset of `group`.
    /// Deletes `group`'s offsets: all, or those of `partitions` (Kafka's OffsetDelete).
    package func deleteOffsets(group: String, partitions: [GroupPartitionRef]? = nil) async throws {
        var path = try Self.offsetsPath(group)
        if let partitions {
            // Topic names are [a-zA-Z0-9._-]: `name:index` needs no escaping.
            path += "?" + (partitions.map { "partition=\($0.topic):\($0.partition)" } + ["only=true"]).joined(separator: "&")
        }
        let _: Empty? = try await callOptional(.DELETE, path, body: Optional<Int>.none)
    }

    /// An empty group id would make a path the router does not know; say what is wrong instead.
    private static func offsetsPath(_ group: String) throws(ControlPlaneError) -> String {
        guard !group.isEmpty else { throw ControlPlaneError(.invalidArgument, "group id must not be empty") }
        return ControlAPI.Path.offsets(group)
    }

    /// The HTTP status of a plain GET of `url` (an agent's `/readyz`, say); nil when nothing answered.
    package static func probe(_ url: String, timeout: Duration = .seconds(2), httpClient: HTTPClient = .shared) async -> Int? {
        guard let response = try? await httpClient.execute(HTTPClientRequest(url: url), timeout: .init(timeout)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    // MARK: ACLs (Kafka's CreateAcls / DeleteAcls)

    /// Adds ACLs; per binding, nil or why it was refused.
    package func createACLs(_ bindings: [ACLBinding]) async throws -> [String?] {
        let response: ControlAPI.CreateACLsResponse = try await call(.POST, ControlAPI.Path.acls, body: ControlAPI.CreateACLsRequest(bindings: bindings))
        return response.errors
    }

    /// Removes what each filter matches; per filter, the ACLs removed.
    package func deleteACLs(_ filters: [ACLFilter]) async throws -> [[ACLBinding]] {
        let response: ControlAPI.DeleteACLsResponse = try await call(.POST, ControlAPI.Path.aclsDelete, body: ControlAPI.DeleteACLsRequest(filters: filters))
        return response.removed
    }

    private struct Empty: Decodable {}

    private func call<Body: Encodable, Reply: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, timeout: Duration = .seconds(10)
    ) async throws -> Reply {
        guard let reply: Reply = try await callOptional(method, path, body: body, timeout: timeout) else {
            throw ControlPlaneError(.protocolFailure, "controller at \(baseURL) sent no body for \(path)")
        }
        return reply
    }

    /// Sends one request; nil for 204 and 304.
    private func callOptional<Body: Encodable, Reply: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, timeout: Duration = .seconds(10)
    ) async throws -> Reply? {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: ControlAPI.secretHeader, value: "Bearer \(secret.value)")
        if let zone { request.headers.add(name: ControlAPI.zoneHeader, value: zone) }
        if let principal { request.headers.add(name: ControlAPI.principalHeader, value: principal) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try ControlAPI.encoder().encode(body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .init(timeout))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw ControlPlaneError(
                .controllerUnreachable,
                "controller unreachable at \(baseURL) (\(Self.describe(error))); check that it runs with 'amq cluster status', or start it with 'amq cluster start'",
                underlying: error
            )
        }
        let data = Data(bytes.readableBytesView)
        switch response.status.code {
        case 200..<300 where response.status != .noContent:
            do {
                return try ControlAPI.decoder().decode(Reply.self, from: data)
            } catch {
                throw ControlPlaneError(.protocolFailure, "controller at \(baseURL) sent a malformed reply to \(path): \(error)", underlying: error)
            }
        case 204, 304:
            return nil
        case 413:
            throw ControlPlaneError(.invalidArgument, "the controller at \(baseURL) refused \(path): the request is larger than the \(ControlRouter.maxBody) bytes it takes")
        default:
            if let body = try? ControlAPI.decoder().decode(ControlAPI.ErrorBody.self, from: data) {
                throw ControlPlaneError(body.code, body.message)
            }
            throw ControlPlaneError(
                .protocolFailure,
                "controller at \(baseURL) answered \(response.status.code) to \(path): \(String(decoding: data.prefix(200), as: UTF8.self))"
            )
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: error)
    }
}
