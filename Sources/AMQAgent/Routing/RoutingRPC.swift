import AMQStorage
import AMQStreamIndex
import Logging
import NIOCore

/// The leader's side of zone routing's RPC: pointers from proxies are staged with the storage
/// engine in the order they arrive, then answered once committed; replicas' long-polls are
/// answered with the committed segments past what they know.
struct RoutingRPCHandler: RPCHandler {
    let state: AgentState
    let logger: Logger

    /// Longest long-poll a replica may ask for.
    static let maxWait: Duration = .seconds(5)

    func start(_ method: RPCMethod, _ body: ByteBuffer, from peer: RPCPeer) async -> RPCStart {
        var body = body
        switch method {
        case .hello:
            return .respond(ByteBuffer())
        case .producePointers:
            return await stagePointers(&body, from: peer)
        case .replicaPoll:
            guard let request = try? ReplicaPollRequest(from: &body) else { return .respond(Self.encode(ReplicaPollResponse(views: []))) }
            let storage = await state.storage
            return .run { await Self.poll(request, storage: storage) }
        }
    }

    private func stagePointers(_ body: inout ByteBuffer, from peer: RPCPeer) async -> RPCStart {
        let request: PointerRequest
        do {
            request = try PointerRequest(from: &body)
        } catch {
            logger.warning("Malformed pointers from a proxy", metadata: ["amq.node.id": "\(peer.nodeID)", "amq.error": "\(error)"])
            return .respond(Self.encode(PointerResponse(outcomes: [])))
        }
        guard let storage = await state.storage else {
            let error = StorageError(.notLeader, "this agent is starting up")
            return .respond(Self.encode(PointerResponse(outcomes: request.pointers.map { _ in .failure(error) })))
        }
        // Staged now, in arrival order: each producer's batches keep the order the proxy took them in.
        var staged: [Result<PendingAppend, StorageError>] = []
        for pointer in request.pointers {
            do {
                staged.append(.success(try await storage.stageRemote(pointer.partition, at: pointer.location, headers: try pointer.batchHeaders())))
            } catch let error as StorageError {
                staged.append(.failure(error))
            } catch {
                staged.append(.failure(StorageError(.corrupt, "\(error)")))
            }
        }
        let appends = staged
        return .run {
            var outcomes: [PointerOutcome] = []
            for append in appends {
                switch append {
                case .failure(let error): outcomes.append(.failure(error))
                case .success(let pending):
                    do {
                        outcomes.append(.success(try await pending.result()))
                    } catch let error as StorageError {
                        outcomes.append(.failure(error))
                    } catch {
                        outcomes.append(.failure(StorageError(.unavailable, "\(error)")))
                    }
                }
            }
            return Self.encode(PointerResponse(outcomes: outcomes))
        }
    }

    private static func poll(_ request: ReplicaPollRequest, storage: StorageEngine?) async -> ByteBuffer {
        guard let storage else { return encode(ReplicaPollResponse(views: request.positions.map { .notLeader($0.partition) })) }
        var positions: [PartitionKey: Int64] = [:]
        for position in request.positions where await storage.isLeader(position.partition) {
            positions[position.partition] = position.knownEnd
        }
        let wait = min(Duration.milliseconds(Int64(max(0, request.waitMs))), maxWait)
        try? await storage.waitForData(positions, until: .now + wait)
        var views: [ReplicaPollResult] = []
        for position in request.positions {
            guard positions[position.partition] != nil, let view = try? await storage.replicaView(position.partition, after: position.knownEnd) else {
                views.append(.notLeader(position.partition))
                continue
            }
            views.append(.view(view))
        }
        return encode(ReplicaPollResponse(views: views))
    }

    static func encode(_ response: PointerResponse) -> ByteBuffer {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        return buffer
    }

    static func encode(_ response: ReplicaPollResponse) -> ByteBuffer {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        return buffer
    }
}

/// The proxy's side: pointers go to their leader over the RPC client, in the order handed over.
struct RPCPointerTransport: PointerTransport {
    let client: RPCClient

    func send(_ pointers: [RouterBufferStateMachine.Pointer], to leader: Int) -> PointerDelivery {
        let request = PointerRequest(
            pointers: pointers.map { WirePointer(partition: $0.partition, location: $0.location, headers: WirePointer.headers(of: $0.batches)) }
        )
        var body = ByteBuffer()
        request.encode(into: &body)
        let call = client.call(.producePointers, body, to: leader)
        let count = pointers.count
        return {
            var answer = try await call.result()
            let response = try PointerResponse(from: &answer)
            guard response.outcomes.count == count else {
                throw StorageError(.unavailable, "node \(leader) answered \(response.outcomes.count) of \(count) pointers")
            }
            return response.outcomes
        }
    }
}
