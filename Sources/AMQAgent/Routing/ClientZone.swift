import Foundation

/// Which zone a Kafka client is in, and how that was learned. In order: a client.id tag
/// (`amq_az=Z`, or AutoMQ's `automq_az=` and WarpStream's `warpstream_az=`, tags separated by `,`
/// or `&`); the zone whose CIDRs hold the client's address; the client's rack (Fetch `rackId`,
/// `client.rack`); else unknown, and the client gets classic Kafka behaviour.
/// docs/zone-routing.md.
struct ClientZone: Sendable, Equatable {
    enum Source: String, Sendable {
        case clientID = "client.id"
        case cidr
        case rack
    }

    var zone: String
    var source: Source

    /// The tag keys that name a zone.
    static let tagKeys: Set<String> = ["amq_az", "automq_az", "warpstream_az"]

    /// What a client.id says about its zone.
    enum Tag: Sendable, Equatable {
        /// No zone tag: the client.id is an ordinary one.
        case none
        case zone(String)
        /// A zone tag that cannot be used (empty, or more than one zone): treated as no tag.
        case malformed(String)
    }

    /// Parses the zone tag of a client.id (the rest of it is the application's own).
    static func tag(in clientID: String?) -> Tag {
        guard let clientID, !clientID.isEmpty else { return .none }
        var found: [String] = []
        for part in clientID.split(whereSeparator: { $0 == "," || $0 == "&" }) {
            guard let equals = part.firstIndex(of: "=") else { continue }
            let key = part[..<equals].trimmingCharacters(in: .whitespaces)
            guard tagKeys.contains(key) else { continue }
            found.append(part[part.index(after: equals)...].trimmingCharacters(in: .whitespaces))
        }
        guard let first = found.first else { return .none }
        guard !first.isEmpty else { return .malformed("\(clientID): the zone tag has no zone") }
        guard found.allSatisfy({ $0 == first }) else { return .malformed("\(clientID): the zone tags name different zones \(found)") }
        return .zone(first)
    }

    /// The client's zone, by the rule above. `zones` are the cluster's; a tag or rack naming
    /// another zone is no zone at all. `zoneOfAddress` looks the peer address up in the zones' CIDRs.
    static func resolve(
        clientID: String?, peerAddress: String?, rack: String?, zones: Set<String>, zoneOfAddress: (String) -> String?
    ) -> ClientZone? {
        if case .zone(let zone) = tag(in: clientID), zones.contains(zone) { return ClientZone(zone: zone, source: .clientID) }
        if let peerAddress, let zone = zoneOfAddress(peerAddress), zones.contains(zone) { return ClientZone(zone: zone, source: .cidr) }
        if let rack, zones.contains(rack) { return ClientZone(zone: rack, source: .rack) }
        return nil
    }
}
