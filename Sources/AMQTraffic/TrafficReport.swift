import Foundation

/// How `amq traffic report` groups its rows.
package enum TrafficGrouping: String, Codable, Sendable, CaseIterable {
    case topic
    case zonePair = "zone-pair"
    case category
}

/// What a report covers.
package struct TrafficQuery: Sendable {
    package var since: Date
    package var until: Date
    package var topic: String?
    package var zone: String?
    package var by: TrafficGrouping

    package init(since: Date, until: Date, topic: String? = nil, zone: String? = nil, by: TrafficGrouping = .topic) {
        self.since = since
        self.until = until
        self.topic = topic
        self.zone = zone
        self.by = by
    }
}

/// What the report needs besides the counts.
package struct TrafficContext: Sendable {
    package var zones: [String]
    /// Every topic, with whether routing is on.
    package var topics: [String: Bool]
    package var settings: TrafficSettings
    /// How long a router buffer waits before it is uploaded (one PUT per zone per interval at least).
    package var routerLingerSeconds: Double
    /// Largest router object.
    package var routerObjectBytes: Double
    /// Everything counted before this is in the counts (nil: not known).
    package var countedThrough: Date?
    /// Buckets that start before this hold an hour, not a minute.
    package var hourBucketsBefore: Int64

    package init(
        zones: [String], topics: [String: Bool], settings: TrafficSettings, routerLingerSeconds: Double = 0.25,
        routerObjectBytes: Double = 8 * 1_048_576, countedThrough: Date?, hourBucketsBefore: Int64 = 0
    ) {
        self.zones = zones
        self.topics = topics
        self.settings = settings
        self.routerLingerSeconds = routerLingerSeconds
        self.routerObjectBytes = routerObjectBytes
        self.countedThrough = countedThrough
        self.hourBucketsBefore = hourBucketsBefore
    }
}

/// `amq traffic report`: bytes within, across and of unknown zones, S3 requests, their cost, what
/// Kafka would have cost, the savings and a 30-day projection, and per topic whether routing pays.
/// Byte figures are on-the-wire (`wireBytes`: IP and TCP headers included), as billed.
package struct TrafficReport: Codable, Sendable {
    package struct Window: Codable, Sendable {
        package var since: Date
        package var until: Date
        package var seconds: Double
        /// Every process had shipped its counts up to `until` when the report was made.
        package var complete: Bool
        package var countedThrough: Date?
    }

    package struct Bytes: Codable, Sendable, Equatable {
        package var intraZone: Int64 = 0
        package var interZone: Int64 = 0
        package var unknownZone: Int64 = 0

        package init(intraZone: Int64 = 0, interZone: Int64 = 0, unknownZone: Int64 = 0) {
            self.intraZone = intraZone
            self.interZone = interZone
            self.unknownZone = unknownZone
        }

        mutating func add(_ flow: TrafficFlow, _ bytes: Int64) {
            if flow.isUnknownZone {
                unknownZone += bytes
            } else if flow.isInterZone {
                interZone += bytes
            } else {
                intraZone += bytes
            }
        }

        package var total: Int64 { intraZone + interZone + unknownZone }

        package static func + (lhs: Self, rhs: Self) -> Self {
            Self(intraZone: lhs.intraZone + rhs.intraZone, interZone: lhs.interZone + rhs.interZone, unknownZone: lhs.unknownZone + rhs.unknownZone)
        }
    }

    package struct Row: Codable, Sendable {
        package var key: String
        package var bytes: Bytes
        package var interZoneCost: Double
    }

    package struct ZonePair: Codable, Sendable {
        package var source: String
        package var destination: String
        package var wireBytes: Int64
        /// Socket bytes without packet headers.
        package var bytes: Int64
    }

    package struct S3Row: Codable, Sendable {
        package var operation: S3Operation
        package var requests: Int64
        package var bytes: Int64
        package var cost: Double
    }

    package struct Costs: Codable, Sendable {
        package var interZone: Double
        package var s3: Double
        package var total: Double
    }

    package struct Kafka: Codable, Sendable {
        package var zones: Int
        package var replicationFactor: Int
        package var followerFetchFraction: Double
        /// Produce requests' and fetch responses' bytes, as clients sent and got them.
        package var producedBytes: Int64
        package var consumedBytes: Int64
        package var crossZoneBytes: Int64
        package var cost: Double
        /// The same with no follower fetching (φ = 0) and with all of it (φ = 1).
        package var crossZoneBytesNoFollowerFetch: Int64
        package var crossZoneBytesAllFollowerFetch: Int64
    }

    package struct Projection: Codable, Sendable {
        package var days: Int
        package var actualCost: Double
        package var kafkaCost: Double
        package var savings: Double
    }

    package enum Recommendation: String, Codable, Sendable {
        case routeEnable = "route-enable"
        case routeDisable = "route-disable"
        case keep
    }

    package struct Advice: Codable, Sendable {
        package var topic: String
        package var routing: Bool
        package var producedBytes: Int64
        package var consumedBytes: Int64
        /// Seconds of the window the topic was produced to (minutes with produce traffic).
        package var activeSeconds: Double
        /// Inter-zone bytes routing avoids (routing on: would cross without it; off: crossed).
        package var avoidedInterZoneBytes: Int64
        package var avoidedCost: Double
        /// S3 requests routing adds (on: would go without it; off: would come with it), at most.
        package var addedS3Puts: Int64
        package var addedS3Gets: Int64
        package var addedCost: Double
        package var recommendation: Recommendation
        package var reason: String
    }

    package struct Bar: Codable, Sendable {
        package var hour: Date
        package var bytes: Bytes
    }

    package var window: Window
    package var topic: String?
    package var zone: String?
    package var by: TrafficGrouping
    package var totals: Bytes
    package var rows: [Row]
    package var zonePairs: [ZonePair]
    /// Cluster-wide: requests are not counted by topic or zone.
    package var s3: [S3Row]
    package var costs: Costs
    package var kafka: Kafka
    package var savings: Double
    package var projection: Projection
    package var advice: [Advice]
    package var hours: [Bar]
    package var settings: TrafficSettings

    /// Builds the report from bucket rows already limited to the query's window.
    package static func build(
        _ query: TrafficQuery, flows allFlows: [TrafficDelta.Flow], requests: [TrafficDelta.Request], context: TrafficContext
    ) -> TrafficReport {
        let settings = context.settings
        let flows = allFlows.filter { row in
            (query.topic.map { row.topic == $0 } ?? true) && (query.zone.map { row.source == $0 || row.destination == $0 } ?? true)
        }
        var totals = Bytes()
        var grouped: [String: Bytes] = [:]
        var pairs: [String: ZonePair] = [:]
        var hours: [Int64: Bytes] = [:]
        var produced: Int64 = 0
        var consumed: Int64 = 0
        for row in flows {
            let flow = row.flow
            totals.add(flow, row.wireBytes)
            let key: String =
                switch query.by {
                case .topic: row.topic.isEmpty ? "-" : row.topic
                case .zonePair: "\(row.source) -> \(row.destination)"
                case .category: row.category.rawValue
                }
            grouped[key, default: Bytes()].add(flow, row.wireBytes)
            let pairKey = "\(row.source)\u{0}\(row.destination)"
            pairs[pairKey, default: ZonePair(source: row.source, destination: row.destination, wireBytes: 0, bytes: 0)].wireBytes += row.wireBytes
            pairs[pairKey]!.bytes += row.bytes
            hours[row.minute - ((row.minute % 3600) + 3600) % 3600, default: Bytes()].add(flow, row.wireBytes)
            if row.category == .produce, row.inbound { produced += row.wireBytes }
            if row.category == .fetch, !row.inbound { consumed += row.wireBytes }
        }
        var byOperation: [S3Operation: RequestCounts] = [:]
        for row in requests { byOperation[row.operation, default: RequestCounts()] += RequestCounts(requests: row.requests, bytes: row.bytes) }
        let s3 = S3Operation.allCases.compactMap { operation -> S3Row? in
            guard let counts = byOperation[operation] else { return nil }
            return S3Row(operation: operation, requests: counts.requests, bytes: counts.bytes, cost: Double(counts.requests) * settings.price(of: operation))
        }
        let interZoneCost = CostModel.interZoneCost(Double(totals.interZone), settings)
        let s3Cost = s3.reduce(0) { $0 + $1.cost }
        let costs = Costs(interZone: interZoneCost, s3: s3Cost, total: interZoneCost + s3Cost)
        let zones = settings.kafkaZones > 0 ? settings.kafkaZones : max(context.zones.count, 1)
        func kafkaBytes(_ phi: Double) -> Int64 {
            Int64(
                CostModel.kafkaCrossZoneBytes(
                    produced: Double(produced), consumed: Double(consumed), zones: zones, replicationFactor: settings.kafkaReplicationFactor,
                    followerFetch: phi
                ).rounded()
            )
        }
        let kafkaCross = kafkaBytes(settings.kafkaFollowerFetchFraction)
        let kafka = Kafka(
            zones: zones, replicationFactor: settings.kafkaReplicationFactor, followerFetchFraction: settings.kafkaFollowerFetchFraction,
            producedBytes: produced, consumedBytes: consumed, crossZoneBytes: kafkaCross,
            cost: CostModel.interZoneCost(Double(kafkaCross), settings), crossZoneBytesNoFollowerFetch: kafkaBytes(0),
            crossZoneBytesAllFollowerFetch: kafkaBytes(1)
        )
        let seconds = max(query.until.timeIntervalSince(query.since), 1)
        let scale = 30 * 86_400 / seconds
        let rows = grouped.map { key, bytes in Row(key: key, bytes: bytes, interZoneCost: CostModel.interZoneCost(Double(bytes.interZone), settings)) }
            .sorted { ($0.bytes.total, $1.key) > ($1.bytes.total, $0.key) }
        return TrafficReport(
            window: Window(
                since: query.since, until: query.until, seconds: seconds,
                complete: context.countedThrough.map { $0 >= query.until } ?? false, countedThrough: context.countedThrough
            ),
            topic: query.topic, zone: query.zone, by: query.by, totals: totals, rows: rows,
            zonePairs: pairs.values.sorted { ($0.source, $0.destination) < ($1.source, $1.destination) },
            s3: s3, costs: costs, kafka: kafka, savings: kafka.cost - costs.total,
            projection: Projection(days: 30, actualCost: costs.total * scale, kafkaCost: kafka.cost * scale, savings: (kafka.cost - costs.total) * scale),
            advice: advise(query, flows: flows, context: context, zones: zones),
            hours: hours.sorted { $0.key < $1.key }.map { Bar(hour: Date(timeIntervalSince1970: Double($0.key)), bytes: $0.value) },
            settings: settings
        )
    }

    /// Routing pays for a topic when the inter-zone bytes it avoids cost more than the S3 requests
    /// it adds (docs/traffic.md, "Break-even"). The advice wants a clear margin either way.
    static let margin = 1.25

    private static func advise(_ query: TrafficQuery, flows: [TrafficDelta.Flow], context: TrafficContext, zones: Int) -> [Advice] {
        let settings = context.settings
        struct Measure {
            var produced: Int64 = 0
            var consumed: Int64 = 0
            var crossed: Int64 = 0
            var producingZones: Set<String> = []
            var minutes: Set<Int64> = []
        }
        var measures: [String: Measure] = [:]
        for row in flows where !row.topic.isEmpty && (row.category == .produce || row.category == .fetch) {
            var measure = measures[row.topic, default: Measure()]
            if row.category == .produce, row.inbound {
                measure.produced += row.wireBytes
                if row.source != TrafficZone.unknown { measure.producingZones.insert(row.source) }
                measure.minutes.insert(row.minute)
            }
            if row.category == .fetch, !row.inbound { measure.consumed += row.wireBytes }
            if row.flow.isInterZone { measure.crossed += row.wireBytes }
            measures[row.topic] = measure
        }
        let names = Set(context.topics.keys).union(measures.keys).filter { query.topic == nil || $0 == query.topic }
        let elsewhere = zones > 1 ? Double(zones - 1) / Double(zones) : 0
        return names.sorted().map { topic in
            let routing = context.topics[topic] ?? false
            let measure = measures[topic] ?? Measure()
            let active = measure.minutes.reduce(0.0) { $0 + ($1 < context.hourBucketsBefore ? 3600 : 60) }
            let seconds = min(active, max(query.until.timeIntervalSince(query.since), 0))
            let avoided: Int64 = routing ? Int64((Double(measure.produced + measure.consumed) * elsewhere).rounded()) : measure.crossed
            // Each zone with producers uploads a router object per linger interval while it has
            // data, and more when an interval's data outgrows one object; each object is read
            // back once per other zone.
            let producingZones = max(measure.producingZones.count, measure.produced > 0 ? 1 : 0)
            let byTime = (seconds / max(context.routerLingerSeconds, 0.001)).rounded(.up) * Double(producingZones)
            let bySize = (Double(measure.produced) / max(context.routerObjectBytes, 1)).rounded(.up)
            let puts = Int64(measure.produced > 0 ? max(byTime, bySize) : 0)
            let gets = puts * Int64(max(zones - 1, 0))
            let avoidedCost = CostModel.interZoneCost(Double(avoided), settings)
            let addedCost = Double(puts) * settings.s3PutPerRequest + Double(gets) * settings.s3GetPerRequest
            let recommendation: Recommendation
            let reason: String
            if measure.produced == 0 && measure.consumed == 0 {
                recommendation = .keep
                reason = "no produce or fetch traffic in the window"
            } else if avoidedCost > addedCost * margin {
                recommendation = routing ? .keep : .routeEnable
                reason = String(format: "saves $%.4f of transfer for $%.4f of S3 requests", avoidedCost, addedCost)
            } else if avoidedCost * margin < addedCost {
                recommendation = routing ? .routeDisable : .keep
                reason = String(format: "S3 requests $%.4f cost more than the transfer saved, $%.4f", addedCost, avoidedCost)
            } else {
                recommendation = .keep
                reason = String(format: "too close to call: saves $%.4f, adds $%.4f", avoidedCost, addedCost)
            }
            return Advice(
                topic: topic, routing: routing, producedBytes: measure.produced, consumedBytes: measure.consumed, activeSeconds: seconds,
                avoidedInterZoneBytes: avoided, avoidedCost: avoidedCost, addedS3Puts: puts, addedS3Gets: gets, addedCost: addedCost,
                recommendation: recommendation, reason: reason
            )
        }
    }
}
