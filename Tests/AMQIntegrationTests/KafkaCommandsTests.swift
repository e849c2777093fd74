import Foundation
import Testing

/// `amq quickstart`, the README's main job, and the CLI's Kafka commands, driven through the real
/// binary against the local cluster quickstart leaves running.
@Suite(.serialized, .timeLimit(.minutes(5))) struct KafkaCommandsTests {
    @Test func quickstartThenProduceConsumeAndGroupCommands() async throws {
        try await AMQProcess.with(cluster: "quickstart") { amq in
            // Stopped at the end (the default), the window's figures are final: check them,
            // then start the cluster again for the commands below.
            let quickstart = try await amq.ok(["quickstart"])
            #expect(quickstart.stdout.contains("100 records produced to quickstart-events and 100 consumed by group quickstart-group"), "\(quickstart.stdout)")
            #expect(quickstart.stdout.contains("kcat -b 127.0.0.1:"))
            // The suggested commands name the binary that ran (it is not on PATH here), so they
            // work when pasted.
            let binary = URL(fileURLWithPath: AMQProcess.binary).resolvingSymlinksInPath().path
            #expect(quickstart.stdout.contains("\(binary) group describe quickstart-group"), "\(quickstart.stdout)")
            try await checkTrafficReport(amq, after: quickstart.stdout)
            try await amq.ok(["cluster", "start", "quickstart"])

            let produced = try await amq.ok(["produce", "quickstart-events", "--key-separator", ":"], input: "a:1\nb:2\nc:3\n")
            #expect(produced.stderr.contains("Produced 3 record(s) to quickstart-events"), "\(produced.stderr)")

            // A new group from the beginning sees all 103, keys and values intact.
            let consumed = try await amq.ok(["consume", "quickstart-events", "--group", "it", "--from-beginning", "--count", "103", "--format", "json"])
            let records = consumed.stdout.split(separator: "\n").compactMap { line in
                try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }
            #expect(records.count == 103)
            let mine = records.filter { ["a", "b", "c"].contains($0["key"] as? String ?? "") }.map { "\($0["key"]!)=\($0["value"]!)" }
            #expect(Set(mine) == ["a=1", "b=2", "c=3"])
            // Per partition, offsets come in order from 0.
            for partition in 0..<3 {
                let offsets = records.filter { $0["partition"] as? Int == partition }.compactMap { $0["offset"] as? Int }
                #expect(offsets == Array(0..<offsets.count))
            }

            // Its commits show as zero lag; after a reset to earliest the group reads it all again.
            let described = try await amq.ok(["group", "describe", "it"])
            #expect(described.stdout.contains("state Empty"), "\(described.stdout)")
            #expect(!described.stdout.split(separator: "\n").contains { $0.hasPrefix("quickstart-events") && !$0.contains(" 0    -") }, "\(described.stdout)")
            try await amq.ok(["group", "reset-offsets", "it", "--topic", "quickstart-events", "--to-earliest", "--execute"])
            let again = try await amq.ok(["consume", "quickstart-events", "--group", "it", "--count", "103"])
            #expect(again.stdout.split(separator: "\n").count == 103)
            // Without new records, the group's next read waits and ends empty.
            let nothing = try await amq.ok(["consume", "quickstart-events", "--group", "it", "--timeout", "2"])
            #expect(nothing.stdout.isEmpty)

            let groups = try await amq.ok(["group", "list"])
            #expect(groups.stdout.contains("quickstart-group") && groups.stdout.contains("it "), "\(groups.stdout)")

            // A bad argument says what to do and changes nothing.
            let bad = try await amq.run(["produce", "quickstart-events", "--acks", "2"], input: "x\n")
            #expect(bad.code == 64 && !bad.stderr.isEmpty)
        }
    }

    /// The traffic summary quickstart ends with is what `amq traffic report` shows for its window,
    /// in every format; routing kept produce and fetch within zones; bad input is refused.
    func checkTrafficReport(_ amq: AMQProcess, after quickstart: String) async throws {
        let lines = quickstart.split(separator: "\n").map(String.init)
        let summary = try #require(lines.first { $0.hasPrefix("Traffic (zone routing on): ") }, "\(quickstart)")
        let same = try #require(lines.first { $0.contains("traffic report --since ") })
        let words = same.split(separator: " ").map(String.init)
        let since = try #require(words.firstIndex(of: "--since").map { words[$0 + 1] })
        let until = try #require(words.firstIndex(of: "--until").map { words[$0 + 1] })
        let window = ["traffic", "report", "--since", since, "--until", until]

        let json = try await amq.ok(window + ["--format", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let totals = try #require(report["totals"] as? [String: Any])
        let (intra, inter, unknown) = (totals["intraZone"] as! Int, totals["interZone"] as! Int, totals["unknownZone"] as! Int)
        // Unknown-zone bytes are callers that do not say their zone: the CLI's own calls to the
        // controller, when one was sampled.
        #expect(intra > 0 && inter > 0 && unknown >= 0, "\(totals)")
        #expect((report["window"] as? [String: Any])?["complete"] as? Bool == true)
        // The summary rounds as the table does.
        func kib(_ bytes: Int) -> String { bytes < 1024 ? "\(bytes) B" : String(format: "%.1f KiB", Double(bytes) / 1024) }
        #expect(summary.contains("\(kib(intra)) within zones, \(kib(inter)) across zones, \(kib(unknown)) of unknown zone"), "\(summary)")

        let table = try await amq.ok(window + ["--chart"])
        for row in ["within zones", "across zones"] {
            let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix(row) })
            #expect(line.contains(kib(row == "within zones" ? intra : inter)), "\(line)")
        }
        #expect(table.stdout.contains("Per hour (UTC)"))
        for line in table.stdout.split(separator: "\n") { #expect(line.count <= 80, "wider than 80 columns: \(line)") }

        let csv = try await amq.ok(window + ["--format", "csv"])
        let rows = csv.stdout.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.first == ["section", "key", "intra_zone_bytes", "inter_zone_bytes", "unknown_zone_bytes", "requests", "cost_usd"])
        #expect(rows.allSatisfy { $0.count == 7 }, "\(csv.stdout)")
        #expect(rows.contains { $0.prefix(5) == ["total", "amq", "\(intra)", "\(inter)", "\(unknown)"] }, "\(csv.stdout)")

        // Routing on and the client in zone a: its produces and fetches never crossed zones.
        let categories = try await amq.ok(window + ["--by", "category", "--format", "json"])
        let byCategory = try #require((try JSONSerialization.jsonObject(with: Data(categories.stdout.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
        for row in byCategory where ["produce", "fetch"].contains(row["key"] as? String) {
            let bytes = try #require(row["bytes"] as? [String: Any])
            #expect(bytes["interZone"] as? Int == 0 && (bytes["intraZone"] as? Int ?? 0) > 0, "\(row)")
        }

        // A hundred records are far below routing's break-even: the advice is to turn it off,
        // and --apply does so only when confirmed.
        let advice = try await amq.ok(["traffic", "advise", "--since", since, "--until", until])
        #expect(advice.stdout.contains("route-disable"), "\(advice.stdout)")
        let declined = try await amq.ok(["traffic", "advise", "--since", since, "--until", until, "--apply"], input: "n\n")
        #expect(declined.stdout.contains("Apply 1 change(s): route-disable quickstart-events? [y/N]") && declined.stdout.contains("Nothing changed."))
        #expect(try await routed(amq) == true)
        let applied = try await amq.ok(["traffic", "advise", "--since", since, "--until", until, "--apply"], input: "y\n")
        #expect(applied.stdout.contains("Applied 1 change(s): route-disable quickstart-events"), "\(applied.stdout)")
        #expect(try await routed(amq) == false)
        try await amq.ok(["topic", "route-enable", "quickstart-events"])

        // Bad input: a clear message, exit code, and nothing changed.
        let before = try await amq.ok(["cluster", "describe", "quickstart", "--format", "json"]).stdout
        for (arguments, code, message) in [
            (["traffic", "report", "--since", "1h", "--until", "2h"], Int32(64), "is after --until"),
            (["traffic", "report", "--topic", "nope"], 1, "topic \"nope\""),
            (["traffic", "report", "--zone", "z"], 1, "zone \"z\""),
            (["traffic", "report", "--by", "colour"], 64, "--by"),
            (["traffic", "report", "--since", "yesterday"], 64, "is not a time"),
            (["cluster", "set", "price.s3-put=-0.1"], 64, "cannot be negative"),
            (["cluster", "set", "kafka.follower-fetch-fraction=2"], 64, "from 0 to 1"),
        ] {
            let result = try await amq.run(arguments)
            #expect(result.code == code && result.stderr.contains(message), "\(arguments): exit \(result.code) \(result.stderr)")
        }
        #expect(try await amq.ok(["cluster", "describe", "quickstart", "--format", "json"]).stdout == before)
    }

    func routed(_ amq: AMQProcess) async throws -> Bool? {
        let described = try await amq.ok(["topic", "describe", "quickstart-events", "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any]
        let topic = (json?["topic"] as? [String: Any]) ?? json
        return (topic?["config"] as? [String: Any])?["routeEnabled"] as? Bool
    }
}
