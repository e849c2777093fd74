/// Which zone a client is in, from its peer address and the zones' CIDR blocks
/// (docs/architecture.md, "Zone CIDRs"). Built once per topology version and queried per
/// connection, so the blocks are kept longest prefix first and a query is one address parse and
/// a scan that stops at the first match.
package struct ZoneCIDRMap: Sendable, Equatable {
    /// (block, zone), longest prefix first, then zone name, so the first match is the most specific.
    private let entries: [(block: CIDRBlock, zone: String)]

    /// From the topology's zones. Blocks are validated when stored; one that no longer parses
    /// (edited by hand) is skipped rather than making every client zone-less.
    package init(_ zones: [ZoneInfo]) {
        var blocks: [String: [CIDRBlock]] = [:]
        for zone in zones {
            blocks[zone.name] = zone.cidrs.compactMap { try? CIDRBlock($0) }
        }
        self.init(blocks: blocks)
    }

    /// From parsed blocks per zone.
    package init(blocks: [String: [CIDRBlock]]) {
        entries = blocks.flatMap { zone, blocks in blocks.map { (block: $0, zone: zone) } }
            .sorted { ($0.block.mappedPrefixLength, $1.zone) > ($1.block.mappedPrefixLength, $0.zone) }
    }

    /// True when no zone has a block: every client is zone-less.
    package var isEmpty: Bool { entries.isEmpty }

    /// The zone whose most specific block holds `address` (`10.1.2.3`, `::ffff:10.1.2.3`,
    /// `fd00::1`); nil when no block does or the string is not an address.
    package func zone(of address: String) -> String? {
        guard !entries.isEmpty, let parsed = IPAddress(address) else { return nil }
        return entries.first { $0.block.contains(parsed) }?.zone
    }

    package static func == (lhs: ZoneCIDRMap, rhs: ZoneCIDRMap) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.block == $1.block && $0.zone == $1.zone }
    }
}

/// The rules a zone's CIDR blocks must follow, checked before anything is written.
package enum ZoneCIDRRules {
    /// Checks `proposed` (zone -> blocks; the zones being set) against each other and against the
    /// blocks `existing` zones keep. No block may overlap another, within one zone's list or
    /// across zones: a client address must name one zone, and a block listed twice is a typo.
    /// - Parameter zones: every zone of the cluster, for the unknown-zone error.
    package static func validate(
        _ proposed: [String: [CIDRBlock]],
        existing: [String: [CIDRBlock]],
        zones: [String]
    ) throws(ControlPlaneError) {
        for zone in proposed.keys.sorted() where !zones.contains(zone) {
            throw ControlPlaneError(
                .zoneNotFound,
                "zone \"\(zone)\" is not a zone of the cluster (zones: \(zones.joined(separator: ", ")))"
            )
        }
        for zone in proposed.keys.sorted() {
            let blocks = proposed[zone] ?? []
            for (index, block) in blocks.enumerated() {
                for other in blocks[..<index] where other.overlaps(block) {
                    throw ControlPlaneError(
                        .invalidArgument,
                        other == block
                            ? "CIDR block \(block) is listed twice for zone \"\(zone)\"; list each block once"
                            : "CIDR blocks \(other) and \(block) of zone \"\(zone)\" overlap; list only the wider one"
                    )
                }
            }
        }
        // Zones being set replace what they had; the rest keep theirs.
        var final = existing.filter { proposed[$0.key] == nil }
        for (zone, blocks) in proposed { final[zone] = blocks }
        let ordered = final.keys.sorted()
        for zone in proposed.keys.sorted() {
            for block in proposed[zone] ?? [] {
                for otherZone in ordered where otherZone != zone {
                    if let other = final[otherZone]?.first(where: { $0.overlaps(block) }) {
                        throw ControlPlaneError(
                            .invalidArgument,
                            "CIDR block \(block) of zone \"\(zone)\" overlaps \(other) of zone \"\(otherZone)\"; "
                                + "a client address must belong to one zone"
                        )
                    }
                }
            }
        }
    }
}
