import GRDB

extension TopologyStore {
    /// Replaces the CIDR blocks of `zone` (an empty list clears them), validated against the
    /// cluster's other zones, in one transaction that bumps the topology version, so agents learn
    /// the new client-to-zone map with the controller's next push (docs/architecture.md).
    /// Stored in canonical form (`10.1.0.0/16`, `fd00::/8`).
    @discardableResult
    package func setZoneCIDRs(_ clusterName: String, zone: String, cidrs: [CIDRBlock]) async throws -> ZoneInfo {
        let actor = self.actor
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            try cluster.requireZone(zone)
            try ZoneCIDRRules.validate(
                [zone: cidrs], existing: try cluster.zoneBlocks(), zones: cluster.info.zones.map(\.name)
            )
            let before = cluster.info.zones.first { $0.name == zone }
            let after = ZoneInfo(name: zone, cidrs: cidrs.map(\.description))
            try db.execute(
                sql: "UPDATE zone SET cidrs = ? WHERE cluster_id = ? AND name = ?",
                arguments: [TopologyJSON.encode(after.cidrs), cluster.id, zone]
            )
            _ = try db.recordChange(
                of: cluster, actor: actor, action: "zone.cidrs", subject: zone,
                before: before.map { TopologyJSON.encode($0) }, after: TopologyJSON.encode(after)
            )
            return after
        }
    }
}

extension ClusterRow {
    /// The zones' stored blocks, parsed. A stored block that no longer parses is an error here:
    /// validating new blocks against it would be guesswork.
    func zoneBlocks() throws(ControlPlaneError) -> [String: [CIDRBlock]] {
        var blocks: [String: [CIDRBlock]] = [:]
        for zone in info.zones {
            blocks[zone.name] = try zone.cidrs.map { text throws(ControlPlaneError) in try CIDRBlock(text) }
        }
        return blocks
    }
}
