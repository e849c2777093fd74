import AMQControlPlane
import Foundation
import AMQStorage
import Hummingbird
import Logging
import NIOCore

/// The agent's admin listener: liveness, readiness and Prometheus metrics, open for probes and
/// scrapers; the agent's view of the topology and the HTTP records API (``RecordsAPI``), which
/// reads and writes any partition, only with the cluster secret (issue 12).
enum AdminRouter {
    static func build(state: AgentState, metrics: AgentMetrics, secret: ClusterSecret, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("healthz") { _, _ in
            "ok\n"
        }
        router.get("readyz") { _, _ in
            let ready = await state.isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "not ready: no topology yet\n"))
            )
        }
        router.get("metrics") { _, _ in
            if let storage = await state.storage {
                metrics.record(
                    storage: await storage.statistics, blockCacheBytes: await storage.blockCache.bytes, objectReads: await storage.blockCache.misses
                )
                if let budget = await storage.memoryBudget { metrics.record(budget: budget) }
            }
            if let router = await state.router {
                let routed = await router.statistics
                metrics.record(router: routed.pendingUploadBytes, uncommittedBytes: routed.unsettledBytes, objectsUploaded: routed.objectsUploaded)
            }
            let text = metrics.render(uptimeSeconds: await state.uptimeSeconds)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        let guarded = router.group("v1").add(middleware: AdminSecretMiddleware(secret: secret, logger: logger))
        guarded.get("state") { _, _ in
            let data = try ControlAPI.encoder().encode(await state.view())
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        RecordsAPI.add(to: guarded, state: state)
        return router
    }
}

/// Refuses calls without `Authorization: Bearer <cluster secret>` (401), logging who and where,
/// never what was presented.
struct AdminSecretMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let secret: ClusterSecret
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard secret.isPresented(in: request.headers[.authorization]) else {
            logger.warning("Admin API call refused: missing or wrong cluster secret", metadata: ["amq.path": "\(request.uri.path)"])
            return Response(
                status: .unauthorized, headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"unauthorized","message":"this API needs the cluster secret: Authorization: Bearer <secret>"}"#))
            )
        }
        return try await next(request, context)
    }
}
