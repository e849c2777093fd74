import NIOCore

/// A socket's segment totals as the kernel keeps them, and the IP and TCP header bytes each
/// segment carries on this connection.
package struct PacketCounts: Sendable, Equatable {
    package var segmentsIn: Int64
    package var segmentsOut: Int64
    package var headerBytes: Int
    /// Payload bytes received, and sent and acknowledged by the peer.
    package var bytesIn: Int64
    package var bytesOut: Int64

    package init(segmentsIn: Int64, segmentsOut: Int64, headerBytes: Int, bytesIn: Int64 = 0, bytesOut: Int64 = 0) {
        self.segmentsIn = segmentsIn
        self.segmentsOut = segmentsOut
        self.headerBytes = headerBytes
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }

    /// The SYN and SYN-ACK carry MSS, SACK-permitted and window-scale options (8 bytes more,
    /// padded) beyond the timestamps every later segment carries.
    static let synOptionBytes = 8

    /// Header bytes of one segment: IPv4 20 or IPv6 40, TCP 20, and 12 of timestamp option
    /// when the connection negotiated timestamps (Linux does by default).
    package static func headerBytes(ipv6: Bool, timestamps: Bool) -> Int {
        (ipv6 ? 40 : 20) + 20 + (timestamps ? 12 : 0)
    }
}

/// Where a meter reads its connection's packet counts.
package protocol PacketHeaderSource: Sendable {
    func read() async -> PacketCounts?
}

/// Reads a TCP socket's `TCP_INFO` (Linux): segments in and out, including retransmissions and
/// bare acknowledgements, so headers are counted for every packet the kernel sent or took in.
package struct TCPInfoSource: PacketHeaderSource {
    let channel: any Channel

    package init(channel: any Channel) {
        self.channel = channel
    }

    package func read() async -> PacketCounts? {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        // Linux's `struct tcp_info` (linux/tcp.h) is longer than the C library's copy, which stops
        // before the segment counts: read the kernel's layout into plain words. The kernel fills
        // what fits; the fields used here have kept their offsets since Linux 4.2.
        let info: TCPInfoWords
        do {
            info = try await provider.unsafeGetSocketOption(level: .tcp, name: .tcp_info).get()
        } catch {
            return nil
        }
        return withUnsafeBytes(of: info) { raw -> PacketCounts in
            let options = raw.load(fromByteOffset: 5, as: UInt8.self)
            let bytesOut = raw.load(fromByteOffset: 120, as: UInt64.self)
            let bytesIn = raw.load(fromByteOffset: 128, as: UInt64.self)
            let segmentsOut = raw.load(fromByteOffset: 136, as: UInt32.self)
            let segmentsIn = raw.load(fromByteOffset: 140, as: UInt32.self)
            let ipv6: Bool
            if case .v6 = channel.localAddress { ipv6 = true } else { ipv6 = false }
            return PacketCounts(
                segmentsIn: Int64(segmentsIn), segmentsOut: Int64(segmentsOut),
                headerBytes: PacketCounts.headerBytes(ipv6: ipv6, timestamps: options & 1 != 0), bytesIn: Int64(bytesIn),
                bytesOut: Int64(bytesOut)
            )
        }
        #else
        return nil
        #endif
    }
}

/// 144 bytes, enough for `struct tcp_info` up to `tcpi_segs_in` (offset 140).
private typealias TCPInfoWords = (
    UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
    UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
)
