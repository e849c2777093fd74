import AMQTraffic
import Foundation

/// How the traffic commands print a report: tables that fit 80 columns, CSV, a bar chart.
enum TrafficRendering {
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var amount = Double(value)
        var unit = 0
        while abs(amount) >= 1024, unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: "%.1f %@", amount, units[unit])
    }

    static func dollars(_ value: Double) -> String {
        abs(value) >= 100 ? String(format: "$%.2f", value) : String(format: "$%.4f", value)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return String(format: "%.0fs", seconds) }
        if seconds < 7200 { return String(format: "%.0fm", seconds / 60) }
        if seconds < 172_800 { return String(format: "%.1fh", seconds / 3600) }
        return String(format: "%.1fd", seconds / 86_400)
    }

    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    static func table(_ report: TrafficReport, cluster: String) {
        let window = report.window
        let since = time(window.since)
        var until = time(window.until)
        if until.prefix(10) == since.prefix(10) { until = String(until.dropFirst(11)) }
        Output.line("Cluster \(cluster), \(since) to \(until) UTC (\(duration(window.seconds)))")
        var scope: [String] = []
        if let topic = report.topic { scope.append("topic \(topic)") }
        if let zone = report.zone { scope.append("bytes to or from zone \(zone)") }
        if !scope.isEmpty { Output.line("Only \(scope.joined(separator: ", "))") }
        if !window.complete {
            let through = window.countedThrough.map { "shipped through \(time($0)) UTC" } ?? "none shipped yet"
            Output.line("Incomplete: counts \(through) (agents ship every heartbeat)")
        }
        Output.line()
        let totals = report.totals
        Output.table(
            ["bytes on the wire", "amount", "share"],
            [
                ["within zones", bytes(totals.intraZone), share(totals.intraZone, totals.total)],
                ["across zones", bytes(totals.interZone), share(totals.interZone, totals.total)],
                ["unknown zone (never inter-zone)", bytes(totals.unknownZone), share(totals.unknownZone, totals.total)],
            ]
        )
        Output.line()
        let label = report.by == .zonePair ? "zone pair" : report.by.rawValue
        Output.table(
            [label, "within", "across", "unknown", "across cost"],
            report.rows.map { [$0.key, bytes($0.bytes.intraZone), bytes($0.bytes.interZone), bytes($0.bytes.unknownZone), dollars($0.interZoneCost)] }
        )
        if !report.s3.isEmpty {
            Output.line()
            Output.table(
                ["s3 requests (cluster)", "requests", "bytes", "cost"],
                report.s3.map { [$0.operation.rawValue, String($0.requests), bytes($0.bytes), dollars($0.cost)] }
            )
        }
        Output.line()
        let kafka = report.kafka
        Output.line("Kafka baseline: \(kafka.zones) zones, RF \(kafka.replicationFactor), follower fetch \(kafka.followerFetchFraction),")
        Output.line("  for \(bytes(kafka.producedBytes)) produced and \(bytes(kafka.consumedBytes)) consumed")
        Output.table(
            ["cost", "amq", "kafka"],
            [
                ["inter-zone transfer", dollars(report.costs.interZone), dollars(kafka.cost)],
                ["s3 requests", dollars(report.costs.s3), "-"],
                ["total", dollars(report.costs.total), dollars(kafka.cost)],
                ["across zones", bytes(totals.interZone), bytes(kafka.crossZoneBytes)],
                ["30-day projection", dollars(report.projection.actualCost), dollars(report.projection.kafkaCost)],
            ]
        )
        Output.line("Savings: \(dollars(report.savings)) in the window, \(dollars(report.projection.savings)) in 30 days at this rate")
        if !report.advice.isEmpty {
            Output.line()
            advice(report)
        }
    }

    static func advice(_ report: TrafficReport) {
        Output.table(
            ["topic", "routing", "avoids", "saves", "s3 adds", "advice"],
            report.advice.map {
                [
                    $0.topic, $0.routing ? "on" : "off", bytes($0.avoidedInterZoneBytes), dollars($0.avoidedCost), dollars($0.addedCost),
                    $0.recommendation.rawValue,
                ]
            }
        )
        for advice in report.advice where advice.recommendation != .keep {
            Output.line("\(advice.topic):")
            Output.line("  \(advice.recommendation.rawValue): \(advice.reason)")
        }
    }

    private static func share(_ part: Int64, _ total: Int64) -> String {
        total == 0 ? "-" : String(format: "%.2f %%", 100 * Double(part) / Double(total))
    }

    /// One line per hour: within (#), across (=) and unknown (.) scaled to the busiest hour.
    static func chart(_ report: TrafficReport) {
        Output.line()
        Output.line("Per hour (UTC): # within zones, = across zones, . unknown zone")
        guard let peak = report.hours.map(\.bytes.total).max(), peak > 0 else { return Output.line("  no traffic in the window") }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MM-dd HH:00"
        let width = 50
        for bar in report.hours {
            func cells(_ value: Int64) -> Int { value == 0 ? 0 : max(1, Int((Double(value) / Double(peak) * Double(width)).rounded())) }
            let line = String(repeating: "#", count: cells(bar.bytes.intraZone)) + String(repeating: "=", count: cells(bar.bytes.interZone))
                + String(repeating: ".", count: cells(bar.bytes.unknownZone))
            Output.line("\(formatter.string(from: bar.hour)) \(line.padding(toLength: width + 2, withPad: " ", startingAt: 0)) \(bytes(bar.bytes.total))")
        }
    }

    /// RFC 4180 CSV with a header: the grouped rows, the zone pairs, the S3 requests and the costs.
    static func csv(_ report: TrafficReport) -> String {
        var lines = [["section", "key", "intra_zone_bytes", "inter_zone_bytes", "unknown_zone_bytes", "requests", "cost_usd"]]
        for row in report.rows {
            lines.append(["by-\(report.by.rawValue)", row.key, "\(row.bytes.intraZone)", "\(row.bytes.interZone)", "\(row.bytes.unknownZone)", "", cost(row.interZoneCost)])
        }
        for pair in report.zonePairs {
            let flow = TrafficFlow(category: .control, source: pair.source, destination: pair.destination, inbound: true)
            let (intra, inter, unknown) =
                flow.isUnknownZone ? (0, 0, pair.wireBytes) : flow.isInterZone ? (0, pair.wireBytes, 0) : (pair.wireBytes, 0, 0)
            lines.append(["zone-pair", "\(pair.source) -> \(pair.destination)", "\(intra)", "\(inter)", "\(unknown)", "", ""])
        }
        for row in report.s3 { lines.append(["s3", row.operation.rawValue, "", "", "", "\(row.requests)", cost(row.cost)]) }
        let totals = report.totals
        lines.append(["total", "amq", "\(totals.intraZone)", "\(totals.interZone)", "\(totals.unknownZone)", "", cost(report.costs.total)])
        lines.append(["total", "kafka", "", "\(report.kafka.crossZoneBytes)", "", "", cost(report.kafka.cost)])
        lines.append(["total", "savings", "", "", "", "", cost(report.savings)])
        lines.append(["projection-30d", "amq", "", "", "", "", cost(report.projection.actualCost)])
        lines.append(["projection-30d", "kafka", "", "", "", "", cost(report.projection.kafkaCost)])
        lines.append(["projection-30d", "savings", "", "", "", "", cost(report.projection.savings)])
        return lines.map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    private static func cost(_ dollars: Double) -> String { String(format: "%.8f", dollars) }

    private static func csvField(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// A few lines for the end of `amq quickstart`.
    static func summary(_ report: TrafficReport, categories: TrafficReport) -> [String] {
        let totals = report.totals
        var data = TrafficReport.Bytes()
        var other = TrafficReport.Bytes()
        for row in categories.rows {
            let isData = row.key == TrafficCategory.produce.rawValue || row.key == TrafficCategory.fetch.rawValue
            if isData { data = data + row.bytes } else { other = other + row.bytes }
        }
        return [
            "Traffic (zone routing on): \(bytes(totals.intraZone)) within zones, \(bytes(totals.interZone)) across zones, "
                + "\(bytes(totals.unknownZone)) of unknown zone.",
            "  Produce and fetch: \(bytes(data.intraZone)) within zones, \(bytes(data.interZone)) across; control, RPC, groups and "
                + "metadata: \(bytes(other.interZone)) across.",
            "  A \(report.kafka.zones)-zone Kafka cluster (RF \(report.kafka.replicationFactor)) would have moved "
                + "\(bytes(report.kafka.crossZoneBytes)) of data across zones.",
        ]
    }
}
