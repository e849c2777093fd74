import AMQControlPlane
import Foundation
import AMQStorage
import Hummingbird
import NIOCore

/// The agent's admin listener: liveness, readiness, Prometheus metrics, the agent's view of the
/// topology, and the HTTP records API (``RecordsAPI``). Open (no secret), like the Kafka listener.
enum AdminRouter {
    static func build(state: AgentState, metrics: AgentMetrics) -> Router<BasicRequestContext> {
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
            }
            if let router = await state.router {
                let routed = await router.statistics
                metrics.record(router: routed.pendingUploadBytes, objectsUploaded: routed.objectsUploaded)
            }
            let text = metrics.render(uptimeSeconds: await state.uptimeSeconds)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        router.get("v1/state") { _, _ in
            let data = try ControlAPI.encoder().encode(await state.view())
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        RecordsAPI.add(to: router, state: state)
        return router
    }
}
