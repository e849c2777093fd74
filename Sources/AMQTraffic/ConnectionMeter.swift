import Synchronization

/// Counts one connection's bytes as they are written and read, by category, topic and the zones at
/// either end, into its process's ``TrafficLedger``; and, from the kernel's segment counts, the IP
/// and TCP headers of the packets that carried them. Headers are shared out over the flows the
/// connection carried since the previous sample, in proportion to their bytes (a connection that
/// carried nothing since — acknowledgements only — gives them to the flow it carried last).
package final class ConnectionMeter: Sendable {
    let id: Int
    private let ledger: TrafficLedger
    private let headerSource: (any PacketHeaderSource)?
    private let state: Mutex<State>

    private struct State {
        var peerZone: String
        var category: TrafficCategory
        var inbound: [TrafficFlow: Int64] = [:]
        var outbound: [TrafficFlow: Int64] = [:]
        var lastInbound: TrafficFlow?
        var lastOutbound: TrafficFlow?
        var packets: PacketCounts?
        var closed = false
    }

    init(id: Int, ledger: TrafficLedger, peerZone: String, category: TrafficCategory, headerSource: (any PacketHeaderSource)?) {
        self.id = id
        self.ledger = ledger
        self.headerSource = headerSource
        state = Mutex(State(peerZone: peerZone, category: category))
    }

    package var localZone: String { ledger.zone }

    package var peerZone: String { state.withLock { $0.peerZone } }

    /// The other end's zone, from now on (a Kafka client names its zone in each request).
    package func setPeerZone(_ zone: String) {
        state.withLock { $0.peerZone = zone }
    }

    /// `bytes` read from the peer; `topics` weighs how they split between topics (none: no topic).
    package func received(_ bytes: Int, _ category: TrafficCategory, topics: [(String, Int)] = []) {
        record(bytes, category, topics: topics, inbound: true)
    }

    /// `bytes` written to the peer.
    package func sent(_ bytes: Int, _ category: TrafficCategory, topics: [(String, Int)] = []) {
        record(bytes, category, topics: topics, inbound: false)
    }

    private func record(_ bytes: Int, _ category: TrafficCategory, topics: [(String, Int)], inbound: Bool) {
        guard bytes > 0 else { return }
        let local = ledger.zone
        let flows: [(TrafficFlow, Int64)] = state.withLock { state in
            let peer = state.peerZone
            return Self.split(Int64(bytes), topics).map { topic, share in
                let flow = TrafficFlow(
                    category: category, topic: topic, source: inbound ? peer : local, destination: inbound ? local : peer, inbound: inbound
                )
                if inbound {
                    state.inbound[flow, default: 0] += share
                    state.lastInbound = flow
                } else {
                    state.outbound[flow, default: 0] += share
                    state.lastOutbound = flow
                }
                return (flow, share)
            }
        }
        for (flow, share) in flows { ledger.add(flow, ByteCounts(bytes: share, wireBytes: share)) }
    }

    /// Counts the packet headers sent and received since the previous sample.
    package func sample() async {
        guard let source = headerSource, let reading = await source.read() else { return }
        let local = ledger.zone
        let shares: [(TrafficFlow, Int64)] = state.withLock { state in
            guard !state.closed else { return [] }
            let previous = state.packets
            // The first reading counts from the connection's start; later ones from the previous.
            let segmentsIn = previous.map { Self.advance(from: $0.segmentsIn, to: reading.segmentsIn) } ?? reading.segmentsIn
            let segmentsOut = previous.map { Self.advance(from: $0.segmentsOut, to: reading.segmentsOut) } ?? reading.segmentsOut
            if segmentsIn > 0 || segmentsOut > 0 || previous == nil { state.packets = reading }
            // The handshake's SYN and SYN-ACK carry more options than the segments after them.
            let firstIn = (previous?.segmentsIn ?? 0) == 0 && segmentsIn > 0
            let firstOut = (previous?.segmentsOut ?? 0) == 0 && segmentsOut > 0
            let headersIn = segmentsIn * Int64(reading.headerBytes) + (firstIn ? Int64(PacketCounts.synOptionBytes) : 0)
            let headersOut = segmentsOut * Int64(reading.headerBytes) + (firstOut ? Int64(PacketCounts.synOptionBytes) : 0)
            let fallback = TrafficFlow(category: state.category, source: state.peerZone, destination: local, inbound: true)
            let inbound = Self.spread(headersIn, over: state.inbound, last: state.lastInbound ?? fallback)
            let outbound = Self.spread(
                headersOut, over: state.outbound,
                last: state.lastOutbound ?? TrafficFlow(category: state.category, source: local, destination: state.peerZone, inbound: false)
            )
            state.inbound = [:]
            state.outbound = [:]
            return inbound + outbound
        }
        for (flow, headers) in shares { ledger.add(flow, ByteCounts(bytes: 0, wireBytes: headers)) }
    }

    /// How far a 32-bit kernel counter moved from `old` to `new`, across a wrap; a reading older
    /// than the last one (two samples racing) moves it not at all.
    package static func advance(from old: Int64, to new: Int64) -> Int64 {
        let delta = UInt32(truncatingIfNeeded: new) &- UInt32(truncatingIfNeeded: old)
        return delta > UInt32.max / 2 ? 0 : Int64(delta)
    }

    /// Takes the last sample and stops being sampled. Call before the socket closes (a channel
    /// that must outlive the peer's close needs `allowRemoteHalfClosure`, or NIO closes the
    /// socket at end of input, before this can read it): the close
    /// itself — our FIN and the peer's last acknowledgement, after this sample — is counted as one
    /// header each way.
    package func close() async {
        await sample()
        let local = ledger.zone
        let closing: [(TrafficFlow, Int64)] = state.withLock { state in
            guard !state.closed, let packets = state.packets else { return [] }
            state.closed = true
            let header = Int64(packets.headerBytes)
            return [
                (state.lastInbound ?? TrafficFlow(category: state.category, source: state.peerZone, destination: local, inbound: true), header),
                (state.lastOutbound ?? TrafficFlow(category: state.category, source: local, destination: state.peerZone, inbound: false), header),
            ]
        }
        for (flow, headers) in closing { ledger.add(flow, ByteCounts(bytes: 0, wireBytes: headers)) }
        ledger.forget(self)
    }

    /// `total` shared out in proportion to `weights` (largest remainder, so the shares add up to
    /// `total` exactly); no weights, or none positive: all to the empty topic.
    package static func split(_ total: Int64, _ weights: [(String, Int)]) -> [(String, Int64)] {
        let positive = weights.filter { $0.1 > 0 }
        let sum = positive.reduce(Int64(0)) { $0 + Int64($1.1) }
        guard sum > 0 else { return [("", total)] }
        var merged: [String: Int64] = [:]
        var order: [String] = []
        for (topic, weight) in positive {
            if merged[topic] == nil { order.append(topic) }
            merged[topic, default: 0] += Int64(weight)
        }
        return apportion(total, order.map { ($0, merged[$0]!) })
    }

    private static func spread(_ total: Int64, over weights: [TrafficFlow: Int64], last: TrafficFlow) -> [(TrafficFlow, Int64)] {
        guard total > 0 else { return [] }
        guard !weights.isEmpty else { return [(last, total)] }
        return apportion(total, weights.sorted { $0.value > $1.value }.map { ($0.key, $0.value) }).filter { $0.1 > 0 }
    }

    private static func apportion<Key>(_ total: Int64, _ weights: [(Key, Int64)]) -> [(Key, Int64)] {
        let sum = weights.reduce(Int64(0)) { $0 + $1.1 }
        var shares = weights.map { key, weight in (key, total.multipliedFullWidth(by: weight), weight) }
            .map { key, product, _ -> (Key, Int64, Int64) in
                let (quotient, remainder) = sum.dividingFullWidth(product)
                return (key, quotient, remainder)
            }
        var left = total - shares.reduce(Int64(0)) { $0 + $1.1 }
        for index in shares.indices.sorted(by: { shares[$0].2 > shares[$1].2 }) where left > 0 {
            shares[index].1 += 1
            left -= 1
        }
        return shares.map { ($0.0, $0.1) }
    }
}
