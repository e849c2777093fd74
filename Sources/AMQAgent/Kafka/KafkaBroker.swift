import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStorage
import AMQStreamIndex
import AMQTraffic
import Logging
import NIOCore
import Synchronization

/// The Kafka API of one agent: decodes a request frame, routes it to its handler and encodes the
/// response frame. Handlers live in `Handlers/`, one file per API family; each opens with the
/// versions it serves and how it behaves.
struct KafkaBroker: Sendable {
    let state: AgentState
    private(set) var control: ControlClient
    let groups: GroupCoordinator
    let metrics: AgentMetrics
    /// This agent's traffic counts.
    let traffic: TrafficLedger
    let logger: Logger
    /// What has been logged once already (malformed zone tags).
    let notices = OnceLog()
    /// Kafka connections open now (`max.connections`).
    let connections = ConnectionCounter()
    /// Whether any of this agent's Kafka listeners authenticates with SASL: then a resource no
    /// ACL names is closed to everyone unless `allow.everyone.if.no.acl.found` says otherwise.
    let hasSASLListener: Bool

    /// This broker with its controller client acting for `context`'s principal, so the admin
    /// changes a handler makes are audited under the client's name.
    func acting(for context: KafkaRequestContext) -> KafkaBroker {
        var copy = self
        // ANONYMOUS is nobody in particular: such changes are the agent's own.
        copy.control = control.acting(as: context.access.principal == .anonymous ? nil : context.access.principal.description)
        return copy
    }

    /// The cluster's connection settings, or Kafka's defaults before a topology arrives.
    var connectionSettings: (maxConnections: Int, maxIdle: Duration) {
        get async {
            let settings = await state.topology?.settings ?? ClusterSettings()
            return (settings.maxConnections, .milliseconds(settings.connectionsMaxIdleMs))
        }
    }

    /// How a request proceeds once read.
    enum Start: Sendable {
        /// Answered at once (or with nothing, for acks=0).
        case respond(OutboundFrame?)
        /// Answered by `work`, which may wait (a commit, a long-poll); it runs concurrently with
        /// later requests of the same connection, whose answers still come after this one.
        case run(@Sendable () async -> OutboundFrame?)
        /// The request cannot be answered (no header, unknown API, undecodable body): Kafka closes
        /// the connection, and so do we — the client reconnects.
        case close(String)
        /// Answered, then the connection is closed (a failed SASL authentication).
        case respondThenClose(OutboundFrame, String)
    }

    /// Starts the request in `frame` (its size prefix already read), counting its bytes on the
    /// session's meter and telling `traffic` what its response will be counted as.
    func start(_ frame: ByteBuffer, session: KafkaSession, traffic: ResponseTraffic, logger: Logger) async -> Start {
        var buffer = frame
        let frameBytes = frame.readableBytes + 4
        let header: RequestHeader
        do {
            header = try RequestHeader.decode(from: &buffer)
        } catch {
            session.meter.received(frameBytes, traffic.category)
            metrics.kafkaRequestRefused()
            return .close("unreadable request header: \(error)")
        }
        guard let apiKey = ApiKey(rawValue: header.apiKey) else {
            session.meter.received(frameBytes, traffic.category)
            metrics.kafkaRequestRefused()
            return .close("API key \(header.apiKey) is not supported (correlation \(header.correlationID))")
        }
        traffic.category = apiKey.trafficCategory
        let lookup = await state.lookup
        if let lookup {
            let zone = ClientZone.resolve(
                clientID: header.clientID, peerAddress: session.peer?.ipAddress, rack: nil, zones: lookup.zones,
                zoneOfAddress: { lookup.zoneCIDRs.zone(of: $0) }
            )
            // A Fetch may say its zone only as KIP-392's rack id, known once the body is read.
            if let zone { session.meter.setPeerZone(zone.zone) }
        }
        if apiKey == .apiVersions, !apiKey.acceptedVersions.contains(header.apiVersion) {
            session.meter.received(frameBytes, traffic.category)
            // A newer client than we know: answer in the oldest form so it retries lower (docs/kafka-compatibility.md).
            metrics.kafkaRequest(.apiVersions, took: .zero)
            return .respond(OutboundFrame(ApiVersionsHandler.unsupportedVersionFrame(correlationID: header.correlationID)))
        }
        guard apiKey.acceptedVersions.contains(header.apiVersion) else {
            session.meter.received(frameBytes, traffic.category)
            metrics.kafkaRequestRefused()
            return .close("\(apiKey.name) v\(header.apiVersion) is not supported (we accept \(apiKey.acceptedVersions))")
        }
        let body: KafkaRequestBody
        do {
            body = try KafkaRequestBody.decode(apiKey: apiKey, version: header.apiVersion, from: &buffer)
        } catch {
            session.meter.received(frameBytes, traffic.category)
            metrics.kafkaRequestRefused()
            return .close("malformed \(apiKey.name) v\(header.apiVersion) request: \(error)")
        }
        if case .fetch(let fetch) = body, !fetch.rackId.isEmpty, let lookup,
            let zone = ClientZone.resolve(
                clientID: header.clientID, peerAddress: session.peer?.ipAddress, rack: fetch.rackId, zones: lookup.zones,
                zoneOfAddress: { lookup.zoneCIDRs.zone(of: $0) }
            )
        {
            session.meter.setPeerZone(zone.zone)
        }
        session.meter.received(frameBytes, traffic.category, topics: body.topicWeights)
        let started = ContinuousClock.now
        // SASL listeners: the handshake and authentication are answered here, in request order;
        // anything else must come from an authenticated, unexpired session.
        var principal = KafkaPrincipal.anonymous
        if session.security.listener.usesSASL {
            switch body {
            case .saslHandshake(let handshake):
                let code = session.security.withSession { $0.handshake(handshake.mechanism) }
                let frame = KafkaRequestContext.frame(SaslHandshakeResponse(errorCode: code, mechanisms: SASLSession.mechanisms), header: header)
                metrics.kafkaRequest(apiKey, took: .now - started)
                return .respond(frame)
            case .saslAuthenticate(let authenticate):
                let reauth = lookup.flatMap { $0.connectionsMaxReauthMs > 0 ? Duration.milliseconds($0.connectionsMaxReauthMs) : nil }
                let outcome = session.security.withSession {
                    $0.authenticate(authenticate.authBytes, users: { lookup?.users[$0] }, now: .now, reauthAfter: reauth, version: header.apiVersion)
                }
                if outcome.authenticated || outcome.close { metrics.kafkaAuthentication(succeeded: outcome.authenticated) }
                let frame = KafkaRequestContext.frame(
                    SaslAuthenticateResponse(
                        errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, authBytes: outcome.authBytes, sessionLifetimeMs: outcome.sessionLifetimeMs
                    ),
                    header: header
                )
                if outcome.close {
                    logger.notice("SASL authentication failed", metadata: ["amq.reason": "\(outcome.errorMessage ?? "\(outcome.errorCode)")"])
                    return .respondThenClose(frame, "SASL authentication failed")
                }
                return .respond(frame)
            default:
                switch session.security.withSession({ $0.admit(apiKey, now: .now) }) {
                case .allow(let who): principal = who
                case .closeUnauthenticated:
                    metrics.kafkaRequestRefused()
                    return .close("unexpected \(apiKey.name) request before SASL authentication")
                case .closeExpired:
                    metrics.kafkaRequestRefused()
                    return .close("the SASL session expired (connections.max.reauth.ms) and the client did not re-authenticate")
                }
            }
        } else if case .saslHandshake = body {
            // A SASL client on a listener without SASL: say so rather than close silently.
            metrics.kafkaRequest(apiKey, took: .now - started)
            return .respond(KafkaRequestContext.frame(SaslHandshakeResponse(errorCode: .illegalSaslState, mechanisms: []), header: header))
        } else if case .saslAuthenticate = body {
            return .respondThenClose(
                KafkaRequestContext.frame(
                    SaslAuthenticateResponse(errorCode: .illegalSaslState, errorMessage: "this listener does not use SASL", authBytes: [], sessionLifetimeMs: 0),
                    header: header
                ),
                "SaslAuthenticate on a listener without SASL"
            )
        }
        let request = KafkaRequestContext(
            header: header, session: session, traffic: traffic, logger: logger,
            access: access(principal, host: session.peer?.ipAddress ?? "", lookup: lookup)
        )
        switch await route(body, request) {
        case .respond(let frame):
            metrics.kafkaRequest(apiKey, took: .now - started)
            return .respond(frame)
        case .run(let work):
            return .run { [metrics] in
                let frame = await work()
                metrics.kafkaRequest(apiKey, took: .now - started)
                return frame
            }
        case .close(let reason):
            metrics.kafkaRequestRefused()
            return .close(reason)
        case .respondThenClose(let frame, let reason):
            return .respondThenClose(frame, reason)
        }
    }

    /// What `principal`, connecting from `host`, may do, by the topology's ACLs.
    func access(_ principal: KafkaPrincipal, host: String, lookup: TopologyLookup?) -> Access {
        guard let lookup else {
            return Access(principal: principal, host: host, authorizer: Authorizer(bindings: [], allowEveryoneIfNoACLFound: !hasSASLListener), metrics: metrics)
        }
        return Access(
            principal: principal, host: host,
            authorizer: Authorizer(
                bindings: lookup.acls, superUsers: lookup.superUsers, allowEveryoneIfNoACLFound: lookup.allowEveryoneIfNoACLFound ?? !hasSASLListener
            ),
            metrics: metrics
        )
    }

    private func route(_ body: KafkaRequestBody, _ request: KafkaRequestContext) async -> Start {
        switch body {
        case .apiVersions(let body):
            return .respond(request.frame(ApiVersionsHandler.handle(body, request)))
        case .produce(let body):
            return await ProduceHandler(broker: self).start(body, request)
        case .metadata(let body):
            return run(request) { try await MetadataHandler(broker: self).handle(body, request) }
        case .fetch(let body):
            return run(request) {
                let response = try await FetchHandler(broker: self).handle(body, request)
                request.traffic.topics = response.topicWeights
                return response
            }
        case .listOffsets(let body):
            return run(request) { try await ListOffsetsHandler(broker: self).handle(body, request) }
        case .offsetForLeaderEpoch(let body):
            return run(request) { try await ListOffsetsHandler(broker: self).handle(body, request) }
        case .initProducerId(let body):
            return run(request) { try await InitProducerIDHandler(broker: self).handle(body, request) }
        case .findCoordinator(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .joinGroup(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .syncGroup(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .heartbeat(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .leaveGroup(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .offsetCommit(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .offsetFetch(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .listGroups(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .describeGroups(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .deleteGroups(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .createTopics(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .deleteTopics(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .createPartitions(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .describeConfigs(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .deleteRecords(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .describeCluster(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .alterConfigs(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .incrementalAlterConfigs(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .electLeaders(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .offsetDelete(let body):
            return run(request) { try await GroupHandlers(broker: self).handle(body, request) }
        case .listPartitionReassignments(let body):
            return run(request) { try await AdminHandlers(broker: self).handle(body, request) }
        case .describeAcls(let body):
            return run(request) { try await ACLHandlers(broker: self).handle(body, request) }
        case .createAcls(let body):
            return run(request) { try await ACLHandlers(broker: self).handle(body, request) }
        case .deleteAcls(let body):
            return run(request) { try await ACLHandlers(broker: self).handle(body, request) }
        case .saslHandshake, .saslAuthenticate:
            // Answered in `start`, before routing.
            return .close("unexpected SASL request")
        }
    }

    /// Runs a handler concurrently. A handler that throws has met something it cannot express in
    /// its response (it maps every expected failure to an error code itself), so the connection
    /// is closed rather than answered wrongly.
    private func run<Response: KafkaMessage>(
        _ request: KafkaRequestContext, _ handler: @escaping @Sendable () async throws -> Response
    ) -> Start {
        .run {
            do {
                return request.frame(try await handler())
            } catch {
                request.logger.error(
                    "Request failed", metadata: ["amq.api": "\(request.header.apiKey)", "amq.error": "\(error)"]
                )
                return nil
            }
        }
    }

    // MARK: Shared lookups

    /// The agent's topology, node and storage, or nil until it has registered.
    func view() async -> BrokerView? {
        await state.brokerView()
    }

    /// The zone of the client that sent `context`'s request (`rack`: a Fetch's rackId), or nil.
    /// A malformed zone tag counts as none, and is logged once per client.id.
    func clientZone(_ context: KafkaRequestContext, view: BrokerView, rack: String? = nil) -> ClientZone? {
        if case .malformed(let why) = ClientZone.tag(in: context.header.clientID), notices.first(why) {
            context.logger.warning("Ignoring a malformed zone tag in a client.id", metadata: ["amq.reason": "\(why)"])
        }
        return ClientZone.resolve(
            clientID: context.header.clientID, peerAddress: context.session.peer?.ipAddress, rack: rack?.isEmpty == false ? rack : nil,
            zones: view.lookup.zones, zoneOfAddress: { view.lookup.zoneCIDRs.zone(of: $0) }
        )
    }
}

/// One request as its handler sees it.
struct KafkaRequestContext: Sendable {
    let header: RequestHeader
    let session: KafkaSession
    let traffic: ResponseTraffic
    let logger: Logger
    /// Who sent it and what they may do.
    let access: Access

    var version: Int16 { header.apiVersion }

    /// Whether the sender may do `operation` on the resource (Kafka's authorizer).
    func may(_ operation: ACLOperation, _ type: ACLResourceType, _ name: String) -> Bool {
        let allowed = access.authorizer.authorize(access.principal, host: access.host, operation, type, name)
        if !allowed {
            access.metrics?.kafkaAuthorizationDenied()
            logger.debug("Denied", metadata: ["amq.principal": "\(access.principal)", "amq.operation": "\(operation.name)", "amq.resource": "\(type.name):\(name)"])
        }
        return allowed
    }

    /// `may` on the cluster resource.
    func mayOnCluster(_ operation: ACLOperation) -> Bool {
        may(operation, .cluster, ACLBinding.clusterResourceName)
    }

    /// The controller client acting for this request's principal (its admin changes are audited so).
    func control(_ broker: KafkaBroker) -> ControlClient {
        broker.acting(for: self).control
    }

    /// The response frame: size, response header, body (record sets as parts of their own).
    func frame<Response: KafkaMessage>(_ response: Response) -> OutboundFrame {
        Self.frame(response, header: header)
    }

    static func frame<Response: KafkaMessage>(_ response: Response, header: RequestHeader) -> OutboundFrame {
        let headerVersion = Response.apiKey.responseHeaderVersion(header.apiVersion)
        return KafkaFrameEncoder.splicedFrame { frame in
            ResponseHeader(correlationID: header.correlationID).encode(into: &frame, headerVersion: headerVersion)
            response.encode(into: &frame, version: header.apiVersion)
        }
    }
}

/// A request's principal and the authorizer that decides for it.
struct Access: Sendable {
    let principal: KafkaPrincipal
    let host: String
    let authorizer: Authorizer
    var metrics: AgentMetrics?
}

/// A consistent view of the cluster for one request.
struct BrokerView: Sendable {
    let topology: TopologySnapshot
    let lookup: TopologyLookup
    let node: NodeInfo
    let storage: StorageEngine?
    let router: RouterWriter?
    let routing: ZoneRouting

    func topic(_ name: String) -> TopicInfo? { lookup.topics[name] }

    func partition(_ topic: String, _ index: Int) -> PartitionInfo? {
        guard let partitions = lookup.partitions[topic] else { return nil }
        // Partitions are numbered 0..<count, so the position is the index.
        if partitions.indices.contains(index), partitions[index].index == index { return partitions[index] }
        return partitions.first { $0.index == index }
    }

    func partitions(of topic: String) -> [PartitionInfo] { lookup.partitions[topic] ?? [] }

    func node(_ id: Int) -> NodeInfo? { lookup.nodes[id] }

    /// Agents clients may connect to: alive, with a Kafka listener.
    var brokers: [NodeInfo] { lookup.brokers }

    /// Any agent serves admin requests (forwarding them to the controller); the lowest alive id is
    /// named as controller so every agent gives clients the same answer.
    var controllerID: Int32 { Int32(brokers.first?.id ?? node.id) }

    var clusterID: String { topology.cluster }

    /// The storage, partition key and epoch of a partition this agent leads, or the Kafka error
    /// that says why not.
    func led(_ topic: String, _ partition: Int32) async throws(NotLed) -> (StorageEngine, PartitionKey, Int) {
        guard let storage else { throw NotLed(code: .notLeaderOrFollower) }
        guard let info = self.topic(topic), let placement = self.partition(topic, Int(partition)) else {
            throw NotLed(code: .unknownTopicOrPartition)
        }
        let key = PartitionKey(topicID: info.id, partition: Int(partition))
        guard let epoch = await storage.leaderEpoch(key) else {
            // Ours by the topology, but not taken yet (a new topic's log still loading): Kafka's
            // answer while a leader is being elected, so clients wait rather than look elsewhere.
            throw NotLed(code: placement.leader == node.id ? .leaderNotAvailable : .notLeaderOrFollower)
        }
        return (storage, key, epoch)
    }

    /// How this agent serves `partition` of `topic` to a client in `clientZone` (nil: unknown).
    func serving(_ topic: TopicInfo, _ partition: PartitionInfo, clientZone: ClientZone?) -> ZoneRouting.Serving {
        routing.serving(partition, routed: topic.config.routeEnabled, clientZone: clientZone?.zone)
    }

    /// The storage, key and leader epoch to serve a read of `partition` with: this agent leads it,
    /// or is the read-only replica of a routed topic in the client's zone (then the epoch is the
    /// topology's). Else the Kafka error that says why not, naming who serves this client.
    func readable(_ topic: String, _ partition: Int32, clientZone: ClientZone?) async throws(NotLed) -> (StorageEngine, PartitionKey, Int) {
        guard let storage else { throw NotLed(code: .notLeaderOrFollower) }
        guard let info = self.topic(topic), let placement = self.partition(topic, Int(partition)) else {
            throw NotLed(code: .unknownTopicOrPartition)
        }
        let key = PartitionKey(topicID: info.id, partition: Int(partition))
        switch serving(info, placement, clientZone: clientZone) {
        case .leader:
            guard let epoch = await storage.leaderEpoch(key) else { throw NotLed(code: .notLeaderOrFollower, leader: placement.leader, epoch: placement.leaderEpoch) }
            return (storage, key, epoch)
        case .replica:
            return (storage, key, placement.leaderEpoch)
        case .elsewhere(let node):
            throw NotLed(code: .notLeaderOrFollower, leader: node, epoch: placement.leaderEpoch)
        }
    }

    struct NotLed: Error {
        var code: KafkaErrorCode
        /// Who serves the client instead, when known (KIP-951's current-leader hint).
        var leader: Int?
        var epoch: Int?
    }
}

/// Keys already logged, so a misbehaving client is reported once, not per request.
final class OnceLog: Sendable {
    private let seen = Mutex<Set<String>>([])
    /// Bounded: past this many keys nothing more is logged.
    static let capacity = 1000

    /// True the first time `key` is seen.
    func first(_ key: String) -> Bool {
        seen.withLock { seen in
            guard seen.count < Self.capacity else { return false }
            return seen.insert(key).inserted
        }
    }
}
