import AMQStreamIndex
import AMQTraffic
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// Request context that keeps the peer's address, for the refusal log, and its connection, whose
/// bytes the controller counts.
struct ControlRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}

/// Routes of the control API (see ``ControlAPI``).
struct ControlRouter: Sendable {
    let store: TopologyStore
    let broadcaster: TopologyBroadcaster
    let secret: ClusterSecret
    let cluster: String
    /// The controller's connections, counted as `control` traffic by the caller's zone.
    let connections: KernelCountedConnections
    let metrics: TrafficMetrics
    let logger: Logger

    /// Largest request body the control API reads.
    static let maxBody = 1 << 20

    func build() -> Router<ControlRequestContext> {
        let router = Router(context: ControlRequestContext.self)
        router.add(middleware: ConnectionZoneMiddleware(connections: connections))
        router.get("metrics") { _, _ in
            metrics.refresh()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString()))
            )
        }
        router.get(RouterPath(ControlAPI.Path.health)) { _, _ in
            let version = await broadcaster.current()?.version ?? 0
            return try Self.json(ControlAPI.HealthResponse(status: "ok", cluster: cluster, topologyVersion: version))
        }
        let api = router.group("v1").add(middleware: SecretMiddleware(secret: secret, logger: logger))
        api.post("register") { request, context in
            let registration = try await Self.decode(TopologyStore.Registration.self, request, context)
            let node = try await store.register(cluster, registration)
            logger.notice("Agent registered", metadata: ["amq.node.id": "\(node.id)", "amq.zone": "\(node.zone)"])
            let topology = try await store.snapshot(cluster)
            await broadcaster.publish(topology)
            return try Self.json(ControlAPI.RegisterResponse(node: node, topology: topology))
        }
        api.post("heartbeat") { request, context in
            let heartbeat = try await Self.decode(ControlAPI.HeartbeatRequest.self, request, context)
            let outcome = try await store.heartbeat(cluster, nodeID: heartbeat.nodeID, ackedVersion: heartbeat.ackedVersion, pid: heartbeat.pid)
            if outcome == .revived {
                logger.notice("Node alive again", metadata: ["amq.node.id": "\(heartbeat.nodeID)"])
            }
            var acknowledged: Int64?
            if let batches = heartbeat.traffic, !batches.isEmpty {
                acknowledged = try await store.recordTraffic(cluster, nodeID: heartbeat.nodeID, batches: batches)
            }
            let version = try await store.topologyVersion(cluster)
            return try Self.json(ControlAPI.HeartbeatResponse(topologyVersion: version, trafficAcknowledged: acknowledged))
        }
        api.post("leave") { request, context in
            let leave = try await Self.decode(ControlAPI.LeaveRequest.self, request, context)
            try await store.leave(cluster, nodeID: leave.nodeID)
            logger.notice("Agent left", metadata: ["amq.node.id": "\(leave.nodeID)"])
            return Response(status: .noContent)
        }
        api.get("topology") { request, _ in
            let after = request.uri.queryParameters.get("after", as: Int.self) ?? -1
            let waitMs = request.uri.queryParameters.get("waitMs", as: Int.self) ?? 0
            let wait = min(Duration.milliseconds(max(waitMs, 0)), ControlAPI.maxWait)
            guard let snapshot = await broadcaster.snapshot(after: after, timeout: wait) else {
                return Response(status: .notModified)
            }
            return try Self.json(snapshot)
        }
        api.post("commit") { request, context in
            let commit = try await Self.decode(CommitRequest.self, request, context)
            return try Self.json(try await store.commit(cluster, commit))
        }
        api.post("uploads") { request, context in
            let uploads = try await Self.decode(ControlAPI.UploadsRequest.self, request, context)
            let keys = try await store.reserveUploads(cluster, uploads.kind, nodeID: uploads.nodeID, count: uploads.count)
            return try Self.json(ControlAPI.UploadsResponse(keys: keys))
        }
        api.get("partition-log") { request, _ in
            let parameters = request.uri.queryParameters
            guard let topicID = parameters.get("topic"), let index = parameters.get("partition", as: Int.self) else {
                throw HTTPError(.badRequest, message: "partition-log needs topic and partition")
            }
            let from = parameters.get("from", as: Int64.self) ?? 0
            let limit = min(max(parameters.get("limit", as: Int.self) ?? 10_000, 1), 100_000)
            return try Self.json(try await store.partitionLog(cluster, PartitionKey(topicID: topicID, partition: index), from: from, limit: limit))
        }
        api.post("delete-records") { request, context in
            let delete = try await Self.decode(ControlAPI.DeleteRecordsRequest.self, request, context)
            let logStart = try await store(acting: request).deleteRecords(cluster, delete.partition, before: delete.before)
            return try Self.json(ControlAPI.DeleteRecordsResponse(logStartOffset: logStart))
        }
        addKafkaRoutes(to: api)
        return router
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ControlRequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: maxBody)
        do {
            return try ControlAPI.decoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "malformed \(T.self) body: \(error)")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try ControlAPI.encoder().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

/// Refuses `/v1` calls without the cluster secret, and turns control-plane errors into JSON bodies
/// with a status that says whose fault it was.
struct SecretMiddleware: RouterMiddleware {
    typealias Context = ControlRequestContext
    let secret: ClusterSecret
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard secret.isPresented(in: request.headers[.authorization]) else {
            // Log who and where, never what they presented.
            logger.warning(
                "Control API call refused: missing or wrong cluster secret",
                metadata: [
                    "amq.peer": "\(context.remoteAddress?.description ?? "unknown")",
                    "amq.path": "\(request.uri.path)",
                ]
            )
            return try ControlRouter.json(
                ControlAPI.ErrorBody(code: .unauthorized, message: "missing or wrong cluster secret"),
                status: .unauthorized
            )
        }
        do {
            return try await next(request, context)
        } catch let error as ControlPlaneError {
            let status: HTTPResponse.Status =
                switch error.code {
                case .clusterNotFound, .nodeNotFound, .topicNotFound, .zoneNotFound: .notFound
                case .conflict, .nodeExists, .topicExists, .clusterExists: .conflict
                case .invalidArgument, .invalidTopicName, .invalidPartitions, .invalidConfig: .badRequest
                case .databaseLocked: .serviceUnavailable
                default: .internalServerError
                }
            return try ControlRouter.json(ControlAPI.ErrorBody(code: error.code, message: error.message), status: status)
        }
    }
}

/// Tells the connection counter which zone each connection's caller is in (agents say so in a
/// header; anyone else is of unknown zone).
struct ConnectionZoneMiddleware: RouterMiddleware {
    typealias Context = ControlRequestContext
    let connections: KernelCountedConnections

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        connections.seen(context.channel, peerZone: HTTPField.Name(ControlAPI.zoneHeader).flatMap { request.headers[$0] })
        return try await next(request, context)
    }
}
