import AMQControlPlane
import AMQKafkaProtocol
import AMQStorage
import AMQStreamIndex
import Foundation
import NIOCore
import Testing

@testable import AMQAgent

/// Zone routing's decisions, directly: which zone a client is in, and who serves it.
@Suite struct ZoneRoutingTests {
    static let zones: Set<String> = ["a", "b", "c"]

    @Test(arguments: [
        ("amq_az=b", ClientZone.Tag.zone("b")),
        ("billing,amq_az=b", .zone("b")),
        ("automq_az=c&billing", .zone("c")),
        ("warpstream_az=a,ws_host=x", .zone("a")),
        ("amq_az=b,automq_az=b", .zone("b")),
        ("billing", .none),
        ("", .none),
        ("amq_az=", .malformed("amq_az=: the zone tag has no zone")),
        ("amq_az=a,amq_az=b", .malformed(#"amq_az=a,amq_az=b: the zone tags name different zones ["a", "b"]"#)),
    ])
    func clientIDTags(_ clientID: String, _ expected: ClientZone.Tag) {
        #expect(ClientZone.tag(in: clientID) == expected)
    }

    @Test func theTagComesFirstThenTheAddressThenTheRack() {
        let cidrs = ZoneCIDRMap([ZoneInfo(name: "a", cidrs: ["10.1.0.0/16"]), ZoneInfo(name: "c", cidrs: ["10.3.0.0/16"])])
        func zone(_ clientID: String?, _ address: String?, _ rack: String?) -> ClientZone? {
            ClientZone.resolve(clientID: clientID, peerAddress: address, rack: rack, zones: Self.zones, zoneOfAddress: { cidrs.zone(of: $0) })
        }
        #expect(zone("amq_az=b", "10.1.2.3", "c") == ClientZone(zone: "b", source: .clientID))
        #expect(zone("billing", "10.1.2.3", "c") == ClientZone(zone: "a", source: .cidr))
        #expect(zone("billing", "192.168.1.1", "c") == ClientZone(zone: "c", source: .rack))
        #expect(zone(nil, nil, nil) == nil)
        // A zone the cluster does not have is no zone: the next rule decides.
        #expect(zone("amq_az=z", "10.3.0.9", nil) == ClientZone(zone: "c", source: .cidr))
        #expect(zone("amq_az=", nil, "zz") == nil)
    }

    static func topology(replicaB: NodeLiveness = .alive) -> TopologySnapshot {
        func node(_ id: Int, _ zone: String, _ liveness: NodeLiveness = .alive) -> NodeInfo {
            NodeInfo(
                id: id, name: nil, zone: zone, host: "127.0.0.1", kafkaPort: 9000 + id, rpcPort: 9100 + id, adminPort: 9200 + id,
                adminState: .active, liveness: liveness, pid: nil, lastHeartbeat: nil, ackedVersion: nil, registeredAt: nil
            )
        }
        return TopologySnapshot(
            cluster: "demo", version: 1, settings: ClusterSettings(), objectStoreURL: "file:///tmp/x",
            zones: ["a", "b", "c"].map { ZoneInfo(name: $0, cidrs: []) },
            nodes: [node(1, "a"), node(2, "b", replicaB), node(3, "c")], topics: [],
            partitions: [PartitionInfo(topic: "t", index: 0, leader: 1, leaderEpoch: 4, replicas: ["b": 2, "c": 3])]
        )
    }

    @Test func eachZoneIsServedByItsRepresentative() {
        let partition = Self.topology().partitions[0]
        let leader = ZoneRouting(topology: Self.topology(), me: 1)
        let replica = ZoneRouting(topology: Self.topology(), me: 2)
        // Routed, client in b: b's replica serves it; the leader sends it there.
        #expect(replica.serving(partition, routed: true, clientZone: "b") == .replica(leader: 1))
        #expect(leader.serving(partition, routed: true, clientZone: "b") == .elsewhere(2))
        // Client in the leader's zone, or of unknown zone, or a topic not routed: the leader.
        #expect(leader.serving(partition, routed: true, clientZone: "a") == .leader)
        #expect(leader.serving(partition, routed: true, clientZone: nil) == .leader)
        #expect(replica.serving(partition, routed: true, clientZone: nil) == .elsewhere(1))
        #expect(replica.serving(partition, routed: false, clientZone: "b") == .elsewhere(1))
        #expect(leader.representative(of: partition, routed: true, in: "c") == 3)
    }

    @Test func aZoneWhoseReplicaIsDownFallsBackToTheLeaderAndIsFlagged() {
        let topology = Self.topology(replicaB: .down)
        let partition = topology.partitions[0]
        let routing = ZoneRouting(topology: topology, me: 1)
        #expect(routing.representative(of: partition, routed: true, in: "b") == 1)
        #expect(routing.serving(partition, routed: true, clientZone: "b") == .leader)
        // The same zone `amq partition list` flags (one rule, in the control plane).
        let nodes = Dictionary(uniqueKeysWithValues: topology.nodes.map { ($0.id, $0) })
        #expect(ReplicaCoverage.zonesWithoutLiveReplica(partition, zones: ["a", "b", "c"], nodes: nodes) == ["b"])
    }

    @Test func theHelloProvesTheSecretAndGoesStale() throws {
        let authenticator = RPCAuthenticator(secret: try ClusterSecret("0123456789abcdef0123"))
        let hello = authenticator.hello(nodeID: 4, zone: "b")
        #expect(authenticator.refusal(of: hello) == nil)
        var forged = hello
        forged.nodeID = 5
        #expect(authenticator.refusal(of: forged) != nil)
        #expect(RPCAuthenticator(secret: try ClusterSecret("another-secret-of-16")).refusal(of: hello) != nil)
        #expect(authenticator.refusal(of: hello, now: Date().addingTimeInterval(600)) != nil)
        // And it survives the wire.
        var buffer = ByteBuffer()
        hello.encode(into: &buffer)
        #expect(try HelloRequest(from: &buffer) == hello)
    }

    @Test func pointersAndPollsSurviveTheWire() throws {
        let key = PartitionKey(topicID: "t-id", partition: 3)
        let batch = threeRecordBatch()
        let location = WritePathStateMachine.RemoteLocation(
            objectKey: "router/n2/x.amqs", objectSize: 900, position: 32, length: batch.readableBytes
        )
        var buffer = ByteBuffer()
        PointerRequest(pointers: [WirePointer(partition: key, location: location, headers: WirePointer.headers(of: batch))]).encode(into: &buffer)
        let decoded = try PointerRequest(from: &buffer)
        #expect(decoded.pointers.count == 1 && decoded.pointers[0].partition == key && decoded.pointers[0].location == location)
        #expect(try decoded.pointers[0].batchHeaders().map(\.lastOffsetDelta) == [2])

        var answer = ByteBuffer()
        PointerResponse(outcomes: [.success(AppendResult(baseOffset: 7, lastOffset: 9)), .failure(StorageError(.notLeader, "moved", leader: 3))]).encode(into: &answer)
        let outcomes = try PointerResponse(from: &answer).outcomes
        #expect(try outcomes[0].get() == AppendResult(baseOffset: 7, lastOffset: 9))
        guard case .failure(let error) = outcomes[1] else { Issue.record("expected a failure"); return }
        #expect(error.code == .notLeader && error.leader == 3)

        let segment = Segment(baseOffset: 0, endOffset: 5, objectKey: "wal/n1/a", position: 10, length: 100, maxTimestamp: 42)
        let response = ReplicaPollResponse(views: [.view(ReplicaView(partition: key, committedEnd: 5, logStart: 0, segments: [segment])), .notLeader(key)])
        var poll = ByteBuffer()
        response.encode(into: &poll)
        #expect(try ReplicaPollResponse(from: &poll) == response)
        var truncated = ByteBuffer(bytes: [0, 0, 0, 9])
        #expect(throws: RPCError.self) { try ReplicaPollResponse(from: &truncated) }
    }
}

private func threeRecordBatch() -> ByteBuffer {
    RecordBatchBuilder.batch((0..<3).map { Record(value: Array("v\($0)".utf8), timestamp: 1) })
}
