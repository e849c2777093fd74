import NIOCore
import Synchronization

/// Connections whose bytes are counted from the kernel alone (`TCP_INFO`: payload received, sent
/// and acknowledged, and segments): the controller's HTTP connections, all of one category, where
/// the server framework does not hand us the bytes. Each sample adds what moved since the last.
/// What moves between a connection's last sample and its close is not counted; agents keep their
/// controller connections open, so that is a connection's last response at most.
package final class KernelCountedConnections: Sendable {
    private struct Entry {
        var channel: any Channel
        var peerZone: String
        var last: PacketCounts?
    }

    private let category: TrafficCategory
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    package init(category: TrafficCategory) {
        self.category = category
    }

    /// A request arrived on `channel` from a peer in `peerZone` (nil: unknown).
    package func seen(_ channel: any Channel, peerZone: String?) {
        let id = ObjectIdentifier(channel)
        let zone = peerZone ?? TrafficZone.unknown
        let added = entries.withLock { entries -> Bool in
            if entries[id] != nil {
                entries[id]!.peerZone = zone
                return false
            }
            entries[id] = Entry(channel: channel, peerZone: zone, last: nil)
            return true
        }
        if added {
            channel.closeFuture.whenComplete { [weak self] _ in _ = self?.entries.withLock { $0.removeValue(forKey: id) } }
        }
    }

    package var count: Int { entries.withLock { $0.count } }

    /// Adds what every connection moved since the previous sample to `ledger`.
    package func sample(into ledger: TrafficLedger) async {
        let channels = entries.withLock { $0.map { ($0.key, $0.value.channel) } }
        for (id, channel) in channels {
            guard let reading = await TCPInfoSource(channel: channel).read() else { continue }
            let moved: (zone: String, previous: PacketCounts?)? = entries.withLock { entries in
                guard var entry = entries[id] else { return nil }
                let previous = entry.last
                if let previous, reading.bytesIn < previous.bytesIn || reading.bytesOut < previous.bytesOut { return nil }
                entry.last = reading
                entries[id] = entry
                return (entry.peerZone, previous)
            }
            guard let moved else { continue }
            let previous = moved.previous ?? PacketCounts(segmentsIn: 0, segmentsOut: 0, headerBytes: reading.headerBytes)
            let handshake = moved.previous == nil ? Int64(PacketCounts.synOptionBytes) : 0
            let segmentsIn = moved.previous == nil ? reading.segmentsIn : ConnectionMeter.advance(from: previous.segmentsIn, to: reading.segmentsIn)
            let segmentsOut = moved.previous == nil ? reading.segmentsOut : ConnectionMeter.advance(from: previous.segmentsOut, to: reading.segmentsOut)
            let bytesIn = reading.bytesIn - previous.bytesIn
            // The kernel counts the acknowledged SYN as a byte sent.
            let bytesOut = max(0, reading.bytesOut - previous.bytesOut - (moved.previous == nil ? 1 : 0))
            ledger.add(
                TrafficFlow(category: category, source: moved.zone, destination: ledger.zone, inbound: true),
                ByteCounts(bytes: bytesIn, wireBytes: bytesIn + segmentsIn * Int64(reading.headerBytes) + (segmentsIn > 0 ? handshake : 0))
            )
            ledger.add(
                TrafficFlow(category: category, source: ledger.zone, destination: moved.zone, inbound: false),
                ByteCounts(bytes: bytesOut, wireBytes: bytesOut + segmentsOut * Int64(reading.headerBytes) + (segmentsOut > 0 ? handshake : 0))
            )
        }
    }
}
