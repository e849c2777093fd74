import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import Logging

/// InitProducerId v0–5 for idempotent producers. Ids come from the controller (monotonic in its
/// SQLite, so never reused across agents or restarts); a producer that already has an id and asks
/// again with it (KIP-360, v3+) gets the next epoch, which restarts its sequences. Transactional
/// ids are refused with COORDINATOR_NOT_AVAILABLE: transactions are not implemented.
struct InitProducerIDHandler {
    let broker: KafkaBroker

    func handle(_ request: InitProducerIdRequest, _ context: KafkaRequestContext) async throws -> InitProducerIdResponse {
        if let transactionalID = request.transactionalId, !transactionalID.isEmpty {
            return InitProducerIdResponse(
                errorCode: .coordinatorNotAvailable, producerId: KafkaSentinel.noProducerID, producerEpoch: KafkaSentinel.noProducerEpoch
            )
        }
        // Kafka: an idempotent producer needs IdempotentWrite on the cluster, or Write on some topic.
        guard context.mayOnCluster(.idempotentWrite) || context.access.authorizer.authorizeAny(context.access.principal, host: context.access.host, .write, .topic)
        else {
            return InitProducerIdResponse(
                errorCode: .clusterAuthorizationFailed, producerId: KafkaSentinel.noProducerID, producerEpoch: KafkaSentinel.noProducerEpoch
            )
        }
        if request.producerId >= 0, request.producerEpoch >= 0, request.producerEpoch < Int16.max - 1 {
            return InitProducerIdResponse(errorCode: .none, producerId: request.producerId, producerEpoch: request.producerEpoch + 1)
        }
        do {
            let allocated = try await broker.control.allocateProducerID()
            context.logger.debug("Producer id allocated", metadata: ["amq.producer": "\(allocated.producerID)"])
            return InitProducerIdResponse(errorCode: .none, producerId: allocated.producerID, producerEpoch: allocated.producerEpoch)
        } catch {
            context.logger.warning("Cannot allocate a producer id", metadata: ["amq.error": "\(error)"])
            return InitProducerIdResponse(
                errorCode: .coordinatorNotAvailable, producerId: KafkaSentinel.noProducerID, producerEpoch: KafkaSentinel.noProducerEpoch
            )
        }
    }
}
