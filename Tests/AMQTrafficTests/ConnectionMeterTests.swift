import AMQTraffic
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Packet counts a test sets by hand.
final class FakePackets: PacketHeaderSource {
    let counts = Mutex(PacketCounts(segmentsIn: 0, segmentsOut: 0, headerBytes: 52))
    func read() async -> PacketCounts? { counts.withLock { $0 } }
    func set(in segmentsIn: Int64, out segmentsOut: Int64) {
        counts.withLock {
            $0.segmentsIn = segmentsIn
            $0.segmentsOut = segmentsOut
        }
    }
}

@Suite struct ConnectionMeterTests {
    func total(_ tally: TrafficTally, _ pick: (TrafficFlow) -> Bool) -> ByteCounts {
        tally.flows.filter { pick($0.key.flow) }.reduce(ByteCounts()) { $0 + $1.value }
    }

    @Test func bytesSplitByTopicExactlyAndHeadersFollowTheFlowsTheyCarried() async {
        let ledger = TrafficLedger(zone: "a")
        let packets = FakePackets()
        let meter = ledger.meter(peerZone: "b", category: .metadata, headerSource: packets)
        await meter.sample()  // the handshake before any request
        meter.received(1001, .produce, topics: [("x", 1), ("y", 2)])
        meter.sent(100, .produce)
        packets.set(in: 10, out: 5)
        await meter.sample()
        let tally = ledger.take()
        let x = total(tally) { $0.topic == "x" && $0.inbound }
        let y = total(tally) { $0.topic == "y" && $0.inbound }
        #expect(x.bytes + y.bytes == 1001)
        #expect(y.bytes == 667 && x.bytes == 334)
        // 10 segments in: 520 header bytes (+8 for the SYN's options), shared 1:2 over x and y.
        #expect(x.wireBytes + y.wireBytes == 1001 + 528)
        let out = total(tally) { !$0.inbound }
        #expect(out.bytes == 100 && out.wireBytes == 100 + 5 * 52 + 8)
        #expect(tally.flows.keys.allSatisfy { $0.flow.inbound ? ($0.flow.source == "b" && $0.flow.destination == "a") : ($0.flow.source == "a") })
    }

    @Test func acknowledgementsAloneGoToTheLastFlowAndCountersWrap() async {
        let ledger = TrafficLedger(zone: "a")
        let packets = FakePackets()
        packets.set(in: Int64(UInt32.max) - 1, out: 0)
        let meter = ledger.meter(peerZone: "c", category: .control, headerSource: packets)
        await meter.sample()
        meter.sent(10, .fetch, topics: [("t", 10)])
        _ = ledger.take()
        packets.set(in: 3, out: 0)  // wrapped: 5 segments in
        await meter.sample()
        let tally = ledger.take()
        #expect(tally.flows.count == 1)
        #expect(tally.flows.first!.key.flow.category == .control)
        #expect(tally.flows.first!.value == ByteCounts(bytes: 0, wireBytes: 5 * 52))
        await meter.close()
        // The close: our FIN and the peer's last acknowledgement, one header each way.
        let closing = ledger.take()
        #expect(total(closing) { $0.inbound }.wireBytes == 52)
        #expect(total(closing) { !$0.inbound }.wireBytes == 52)
        await meter.sample()
        #expect(ledger.take().isEmpty)
    }

    @Test func theKernelsSegmentCountsAreReadFromARealSocket() async throws {
        #if os(Linux)
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0) { child in
            child.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child) }
        }
        let port = server.channel.localAddress!.port!
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // The server reads everything, so the sender is never held back by a full window.
            tasks.addTask {
                try await server.executeThenClose { inbound in
                    for try await child in inbound {
                        // The accepting side reads its counts too.
                        let accepted = TCPInfoSource(channel: child.channel)
                        #expect(await accepted.read() != nil)
                        try await child.executeThenClose { bytes, _ in for try await _ in bytes {} }
                        return
                    }
                }
            }
            let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
            let source = TCPInfoSource(channel: client.channel)
            let before = try #require(await source.read())
            #expect(before.headerBytes == 52 || before.headerBytes == 40)
            #expect(before.segmentsOut >= 1)  // the SYN
            try await client.executeThenClose { _, outbound in
                for _ in 0..<20 { try await outbound.write(ByteBuffer(repeating: 1, count: 100_000)) }
                // A deadline, not a pace: on a loaded machine (CI builds beside it) the reader can lag.
                let deadline = ContinuousClock.now + .seconds(60)
                var after = before
                while ContinuousClock.now < deadline {
                    after = try #require(await source.read())
                    if after.bytesOut > 2_000_000 { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                // 2 MB acknowledged (the kernel counts the SYN as one byte), in segments of at
                // most loopback's 64 KiB MTU, and acknowledgements coming back.
                #expect(after.bytesOut == 2_000_001)
                #expect(after.segmentsOut - before.segmentsOut >= 30)
                #expect(after.segmentsIn > before.segmentsIn)
            }
            try await tasks.waitForAll()
        }
        #endif
    }
}
