import AMQTraffic
import Foundation
import GRDB

/// Traffic history: batches from agents applied once each, the controller's own counts, minute
/// buckets rolled up into hours and dropped past retention, and the rows a report reads.
extension TopologyStore {
    /// The controller's own counts are kept as node 0's.
    package static let controllerTrafficNode = 0

    /// Applies the batches of `origin` not applied yet, in order; returns the highest sequence
    /// applied, which the agent takes as the acknowledgement of every batch up to it.
    package func recordTraffic(_ clusterName: String, nodeID: Int, batches: [TrafficBatch]) async throws -> Int64 {
        guard let origin = batches.first?.origin else { return 0 }
        return try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let row = try Row.fetchOne(
                db, sql: "SELECT origin, sequence FROM traffic_source WHERE cluster_id = ? AND node_id = ?", arguments: [cluster.id, nodeID]
            )
            var applied: Int64 = 0
            var through = 0.0
            if let row, (row["origin"] as String) == origin { applied = row["sequence"] }
            for batch in batches.sorted(by: { $0.sequence < $1.sequence }) where batch.origin == origin && batch.sequence > applied {
                try db.addTraffic(cluster.id, batch.delta)
                applied = batch.sequence
                through = max(through, batch.through)
            }
            try db.execute(
                sql: """
                    INSERT INTO traffic_source (cluster_id, node_id, origin, sequence, through) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (cluster_id, node_id) DO UPDATE SET origin = excluded.origin, sequence = excluded.sequence,
                        through = MAX(CASE WHEN traffic_source.origin = excluded.origin THEN traffic_source.through ELSE 0 END, excluded.through)
                    """,
                arguments: [cluster.id, nodeID, origin, applied, through]
            )
            return applied
        }
    }

    /// Adds the controller's own counts, counted up to `through`.
    package func recordControllerTraffic(_ clusterName: String, _ tally: TrafficTally, through: Date) async throws {
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            try db.addTraffic(cluster.id, tally.delta)
            try db.execute(
                sql: """
                    INSERT INTO traffic_source (cluster_id, node_id, origin, sequence, through) VALUES (?, ?, 'controller', 0, ?)
                    ON CONFLICT (cluster_id, node_id) DO UPDATE SET through = MAX(traffic_source.through, excluded.through)
                    """,
                arguments: [cluster.id, Self.controllerTrafficNode, through.timeIntervalSince1970]
            )
        }
    }

    /// Rolls minute buckets older than the cluster's `traffic.minute-bucket-hours` into hour
    /// buckets and drops buckets older than `traffic.retention-days`.
    package func compactTraffic(_ clusterName: String, now: Date = Date()) async throws {
        try await database.write { db in
            let cluster = try db.clusterRow(named: clusterName)
            let settings = cluster.info.settings.traffic
            let cutoff = TrafficTally.minute(of: now) - Int64(settings.minuteBucketHours) * 3600
            let rollBefore = cutoff - ((cutoff % 3600) + 3600) % 3600
            let expired = Int64(now.timeIntervalSince1970) - Int64(settings.retentionDays) * 86_400
            // One statement at a time: each takes its own arguments.
            let statements: [(String, StatementArguments)] = [
                (
                    """
                    INSERT INTO traffic_flow (cluster_id, bucket, width, category, topic, source_zone, destination_zone, inbound, bytes, wire_bytes)
                    SELECT cluster_id, bucket - (bucket % 3600), 3600, category, topic, source_zone, destination_zone, inbound, SUM(bytes), SUM(wire_bytes)
                    FROM traffic_flow WHERE cluster_id = ? AND width = 60 AND bucket < ?
                    GROUP BY bucket - (bucket % 3600), category, topic, source_zone, destination_zone, inbound
                    ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes, wire_bytes = wire_bytes + excluded.wire_bytes
                    """, [cluster.id, rollBefore]
                ),
                ("DELETE FROM traffic_flow WHERE cluster_id = ? AND width = 60 AND bucket < ?", [cluster.id, rollBefore]),
                (
                    """
                    INSERT INTO traffic_request (cluster_id, bucket, width, operation, requests, bytes)
                    SELECT cluster_id, bucket - (bucket % 3600), 3600, operation, SUM(requests), SUM(bytes)
                    FROM traffic_request WHERE cluster_id = ? AND width = 60 AND bucket < ?
                    GROUP BY bucket - (bucket % 3600), operation
                    ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes
                    """, [cluster.id, rollBefore]
                ),
                ("DELETE FROM traffic_request WHERE cluster_id = ? AND width = 60 AND bucket < ?", [cluster.id, rollBefore]),
                ("DELETE FROM traffic_flow WHERE cluster_id = ? AND bucket < ?", [cluster.id, expired]),
                ("DELETE FROM traffic_request WHERE cluster_id = ? AND bucket < ?", [cluster.id, expired]),
            ]
            for (sql, arguments) in statements { try db.execute(sql: sql, arguments: arguments) }
        }
    }

    /// What a report over [since, until) reads: the buckets that start in it, summed over the
    /// processes that counted them; the first bucket's start; how far every counting process that
    /// is up has shipped its counts; and where hour buckets end.
    package struct TrafficHistory: Sendable {
        package var flows: [TrafficDelta.Flow]
        package var requests: [TrafficDelta.Request]
        package var firstBucket: Date?
        package var countedThrough: Date?
        package var hourBucketsBefore: Int64
    }

    package func trafficHistory(_ clusterName: String, since: Date, until: Date) async throws -> TrafficHistory {
        try await database.read { db in
            let cluster = try db.clusterRow(named: clusterName)
            let range: StatementArguments = [cluster.id, Int64(since.timeIntervalSince1970.rounded(.down)), Int64(until.timeIntervalSince1970.rounded(.up))]
            let flows = try Row.fetchAll(
                db,
                sql: """
                    SELECT bucket, category, topic, source_zone, destination_zone, inbound, SUM(bytes) AS bytes, SUM(wire_bytes) AS wire_bytes
                    FROM traffic_flow WHERE cluster_id = ? AND bucket >= ? AND bucket < ?
                    GROUP BY bucket, category, topic, source_zone, destination_zone, inbound
                    """,
                arguments: range
            ).compactMap { row -> TrafficDelta.Flow? in
                guard let category = TrafficCategory(rawValue: row["category"]) else { return nil }
                return TrafficDelta.Flow(
                    minute: row["bucket"], category: category, topic: row["topic"], source: row["source_zone"],
                    destination: row["destination_zone"], inbound: row["inbound"], bytes: row["bytes"], wireBytes: row["wire_bytes"]
                )
            }
            let requests = try Row.fetchAll(
                db,
                sql: """
                    SELECT bucket, operation, SUM(requests) AS requests, SUM(bytes) AS bytes
                    FROM traffic_request WHERE cluster_id = ? AND bucket >= ? AND bucket < ? GROUP BY bucket, operation
                    """,
                arguments: range
            ).compactMap { row -> TrafficDelta.Request? in
                guard let operation = S3Operation(rawValue: row["operation"]) else { return nil }
                return TrafficDelta.Request(minute: row["bucket"], operation: operation, requests: row["requests"], bytes: row["bytes"])
            }
            let first = try Int64.fetchOne(
                db,
                sql: """
                    SELECT MIN(bucket) FROM (SELECT MIN(bucket) AS bucket FROM traffic_flow WHERE cluster_id = ?1
                    UNION ALL SELECT MIN(bucket) FROM traffic_request WHERE cluster_id = ?1)
                    """,
                arguments: [cluster.id]
            )
            // Processes that are up (agents alive, and the controller) must have shipped past a
            // window's end for it to be complete; a stopped or down agent counts nothing more.
            // With nothing running, nothing more will be counted: every window is complete.
            let running = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS sources, MIN(s.through) AS through FROM traffic_source s
                    LEFT JOIN node n ON n.cluster_id = s.cluster_id AND n.node_id = s.node_id
                    WHERE s.cluster_id = ? AND ((s.node_id = 0 AND ?) OR n.liveness = 'alive')
                    """,
                arguments: [cluster.id, cluster.info.controllerURL != nil]
            )
            let sources: Int = running?["sources"] ?? 0
            let through: Double? = sources == 0 ? Date.distantFuture.timeIntervalSince1970 : running?["through"]
            let hourBuckets = try Int64.fetchOne(
                db, sql: "SELECT MAX(bucket) + 3600 FROM traffic_flow WHERE cluster_id = ? AND width = 3600", arguments: [cluster.id]
            )
            return TrafficHistory(
                flows: flows, requests: requests, firstBucket: first.map { Date(timeIntervalSince1970: Double($0)) },
                countedThrough: through.map { Date(timeIntervalSince1970: $0) }, hourBucketsBefore: hourBuckets ?? 0
            )
        }
    }
}

extension Database {
    func addTraffic(_ clusterID: Int64, _ delta: TrafficDelta) throws {
        for row in delta.flows where row.bytes != 0 || row.wireBytes != 0 {
            try execute(
                sql: """
                    INSERT INTO traffic_flow (cluster_id, bucket, width, category, topic, source_zone, destination_zone, inbound, bytes, wire_bytes)
                    VALUES (?, ?, 60, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes, wire_bytes = wire_bytes + excluded.wire_bytes
                    """,
                arguments: [clusterID, row.minute, row.category.rawValue, row.topic, row.source, row.destination, row.inbound, row.bytes, row.wireBytes]
            )
        }
        for row in delta.requests where row.requests != 0 || row.bytes != 0 {
            try execute(
                sql: """
                    INSERT INTO traffic_request (cluster_id, bucket, width, operation, requests, bytes) VALUES (?, ?, 60, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes
                    """,
                arguments: [clusterID, row.minute, row.operation.rawValue, row.requests, row.bytes]
            )
        }
    }
}

extension TopologyStore {
    /// The report for `query` (docs/traffic.md). A `query.topic` must be a topic of the cluster
    /// or one with history; a `query.zone` one of its zones or `unknown`.
    package func trafficReport(_ clusterName: String, _ query: TrafficQuery) async throws -> TrafficReport {
        guard query.since <= query.until else {
            throw ControlPlaneError(
                .invalidArgument,
                "--since (\(TrafficWindow.format(query.since))) is after --until (\(TrafficWindow.format(query.until))); swap them"
            )
        }
        let snapshot = try await snapshot(clusterName)
        let history = try await trafficHistory(clusterName, since: query.since, until: query.until)
        let zones = snapshot.zones.map(\.name)
        if let zone = query.zone, !zones.contains(zone), zone != TrafficZone.unknown {
            throw ControlPlaneError(
                .zoneNotFound, "zone \"\(zone)\" is not one of cluster \(clusterName)'s zones (\(zones.joined(separator: ", ")), or unknown)"
            )
        }
        if let topic = query.topic, !snapshot.topics.contains(where: { $0.name == topic }), !history.flows.contains(where: { $0.topic == topic }) {
            throw ControlPlaneError(
                .topicNotFound, "topic \"\(topic)\" is not in cluster \(clusterName) and has no traffic in the window; list topics with 'amq topic list'"
            )
        }
        let context = TrafficContext(
            zones: zones, topics: Dictionary(snapshot.topics.map { ($0.name, $0.config.routeEnabled) }, uniquingKeysWith: { a, _ in a }),
            settings: snapshot.settings.traffic, countedThrough: history.countedThrough, hourBucketsBefore: history.hourBucketsBefore
        )
        return TrafficReport.build(query, flows: history.flows, requests: history.requests, context: context)
    }

    /// The start of the cluster's traffic history (nil: none yet).
    package func trafficStart(_ clusterName: String) async throws -> Date? {
        try await trafficHistory(clusterName, since: .distantFuture, until: .distantFuture).firstBucket
    }
}

/// Times as the traffic commands read and print them.
package enum TrafficWindow {
    /// `now`, a duration ago (`90s`, `15m`, `2h`, `7d`), an ISO 8601 time, or seconds since 1970.
    package static func parse(_ text: String, now: Date = Date()) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return now }
        if let unit = trimmed.last, let amount = Double(trimmed.dropLast()), amount >= 0 {
            let seconds: Double? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86_400
                default: nil
                }
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        if let seconds = Double(trimmed), seconds >= 0 { return Date(timeIntervalSince1970: seconds) }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: trimmed) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: trimmed)
    }

    package static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
