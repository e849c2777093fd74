import Foundation

/// An IPv4 or IPv6 network in CIDR notation (`10.1.0.0/16`, `fd00::/8`): which client addresses
/// belong to a zone (docs/architecture.md, "Zone CIDRs").
///
/// Every block is kept in the IPv6 address space, an IPv4 block as its IPv4-mapped range
/// (`::ffff:10.1.0.0/112`), so a peer seen as `::ffff:10.1.2.3` by a dual-stack listener matches
/// an IPv4 block and `contains`/`overlaps` need no per-family cases. Pure, no I/O.
package struct CIDRBlock: Sendable, Hashable, Codable, CustomStringConvertible {
    package enum Family: String, Sendable, Hashable, Codable {
        case ipv4, ipv6
    }

    package let family: Family
    /// The network address in the IPv6 space (IPv4 mapped), host bits zero.
    package let network: UInt128
    /// The prefix length as written: 0–32 for IPv4, 0–128 for IPv6.
    package let prefixLength: Int

    /// Parses `network/prefix`, refusing set host bits (naming the network meant).
    package init(_ text: String) throws(ControlPlaneError) {
        let text = text.trimmingCharacters(in: .whitespaces)
        func invalid(_ reason: String) -> ControlPlaneError {
            ControlPlaneError(
                .invalidArgument,
                "CIDR block \"\(text)\" is invalid: \(reason); write it as network/prefix, e.g. 10.1.0.0/16 or fd00::/8"
            )
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid(parts.count < 2 ? "no /prefix length" : "more than one '/'") }
        guard let address = IPAddress(String(parts[0])) else {
            throw invalid("\"\(parts[0])\" is not an IPv4 or IPv6 address")
        }
        let maxPrefix = address.family == .ipv4 ? 32 : 128
        guard let prefix = Int(parts[1]), parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
            (0...maxPrefix).contains(prefix)
        else {
            throw invalid("the prefix length \"\(parts[1])\" must be a number from 0 to \(maxPrefix)")
        }
        let mappedPrefix = address.family == .ipv4 ? prefix + 96 : prefix
        let network = address.value & Self.mask(mappedPrefix)
        family = address.family
        prefixLength = prefix
        self.network = network
        guard network == address.value else {
            throw invalid("host bits are set; the network is \(self.description)")
        }
    }

    /// Parses a comma-separated list; an empty (or all-blank) string is the empty list.
    package static func list(_ text: String) throws(ControlPlaneError) -> [CIDRBlock] {
        var blocks: [CIDRBlock] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingCharacters(in: .whitespaces)
            if item.isEmpty {
                if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                throw ControlPlaneError(
                    .invalidArgument,
                    "CIDR list \"\(text)\" has an empty entry; separate blocks with single commas, e.g. 10.1.0.0/16,10.2.0.0/16"
                )
            }
            blocks.append(try CIDRBlock(item))
        }
        return blocks
    }

    /// The prefix length in the IPv6 space.
    var mappedPrefixLength: Int { family == .ipv4 ? prefixLength + 96 : prefixLength }

    /// Whether the peer address (`10.1.2.3`, `fd00::1`, `::ffff:10.1.2.3`, `[fd00::1]`,
    /// `fe80::1%eth0`) lies in this block. Anything that is not an address is in no block.
    package func contains(_ address: String) -> Bool {
        guard let parsed = IPAddress(address) else { return false }
        return contains(parsed)
    }

    func contains(_ address: IPAddress) -> Bool {
        address.value & Self.mask(mappedPrefixLength) == network
    }

    /// Whether some address lies in both blocks (one contains the other's network).
    package func overlaps(_ other: CIDRBlock) -> Bool {
        let shorter = min(mappedPrefixLength, other.mappedPrefixLength)
        return network & Self.mask(shorter) == other.network & Self.mask(shorter)
    }

    /// Canonical form: dotted quad for IPv4, RFC 5952 compressed lower case for IPv6.
    package var description: String {
        "\(IPAddress(family: family, value: network))/\(prefixLength)"
    }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do throws(ControlPlaneError) {
            self = try CIDRBlock(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The top `bits` bits set.
    static func mask(_ bits: Int) -> UInt128 {
        bits == 0 ? 0 : ~UInt128(0) << (128 - bits)
    }
}

/// A parsed IPv4 or IPv6 address, IPv4 (and IPv4-mapped IPv6) held as `::ffff:a.b.c.d`.
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    var family: CIDRBlock.Family
    var value: UInt128

    static let mappedPrefix: UInt128 = 0xffff << 32

    init(family: CIDRBlock.Family, value: UInt128) {
        self.family = family
        self.value = value
    }

    init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        // A scope (`fe80::1%eth0`) names an interface, not part of the address.
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        if let v4 = Self.parseIPv4(text) {
            self.init(family: .ipv4, value: Self.mappedPrefix | UInt128(v4))
        } else if let v6 = Self.parseIPv6(text) {
            self.init(family: .ipv6, value: v6)
        } else {
            return nil
        }
    }

    /// Four decimal octets, no leading zeros (`010` could mean octal to some tools).
    static func parseIPv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }),
                octet.count == 1 || octet.first != "0", let number = UInt32(octet), number <= 255
            else { return nil }
            value = value << 8 | number
        }
        return value
    }

    /// Eight groups of up to four hex digits, one `::` for a run of zero groups, and an IPv4
    /// dotted quad allowed as the last 32 bits.
    static func parseIPv6(_ text: Substring) -> UInt128? {
        guard text.contains(":") else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let v4 = parseIPv4(piece) {
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                    continue
                }
                guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit), let group = UInt16(piece, radix: 16)
                else { return nil }
                result.append(group)
            }
            return result
        }
        let halves = text.components(separatedBy: "::")
        let all: [UInt16]
        switch halves.count {
        case 1:
            guard let only = groups(text), only.count == 8 else { return nil }
            all = only
        case 2:
            guard let head = groups(Substring(halves[0])), let tail = groups(Substring(halves[1])), head.count + tail.count <= 7
            else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
        return all.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    var description: String {
        if family == .ipv4 {
            let v4 = UInt32(truncatingIfNeeded: value)
            return [24, 16, 8, 0].map { String((v4 >> UInt32($0)) & 0xff) }.joined(separator: ".")
        }
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * $0)) }
        // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length && end - index >= 2 { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
