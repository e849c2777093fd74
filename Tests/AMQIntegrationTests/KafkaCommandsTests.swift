import Foundation
import Testing

/// `amq quickstart`, the README's main job, and the CLI's Kafka commands, driven through the real
/// binary against the local cluster quickstart leaves running.
@Suite(.serialized, .timeLimit(.minutes(5))) struct KafkaCommandsTests {
    @Test func quickstartThenProduceConsumeAndGroupCommands() async throws {
        try await AMQProcess.with(cluster: "quickstart") { amq in
            let quickstart = try await amq.ok(["quickstart", "--keep-running"])
            #expect(quickstart.stdout.contains("100 records produced to quickstart-events and 100 consumed by group quickstart-group"), "\(quickstart.stdout)")
            #expect(quickstart.stdout.contains("kcat -b 127.0.0.1:"))
            // The suggested commands name the binary that ran (it is not on PATH here), so they
            // work when pasted.
            let binary = URL(fileURLWithPath: AMQProcess.binary).resolvingSymlinksInPath().path
            #expect(quickstart.stdout.contains("\(binary) group describe quickstart-group"), "\(quickstart.stdout)")

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
}
