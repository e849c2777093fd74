import Foundation
import Testing

/// Every bad input gets one clear line on stderr, a non-zero exit (64 for usage errors), and
/// leaves the database as it was.
@Suite(.timeLimit(.minutes(5))) struct CLIErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var code: Int32
        var message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["topic", "create", "x", "--partitions", "0"], code: 64, message: "--partitions must be at least 1"),
        Case(arguments: ["topic", "create", "x", "--partitions", "-3"], code: 64, message: "--partitions must be at least 1"),
        Case(arguments: ["topic", "create", "orders", "--partitions", "3"], code: 1, message: "topic \"orders\" already exists"),
        Case(arguments: ["topic", "create", "changelog", "--partitions", "1", "--config", "cleanup.policy=compact"], code: 64, message: "amq does not compact topics by key"),
        Case(arguments: ["topic", "describe", "nope"], code: 1, message: "topic \"nope\" not found in cluster \"demo\"; list topics with 'amq topic list'"),
        Case(arguments: ["topic", "delete", "nope"], code: 1, message: "topic \"nope\" not found"),
        Case(arguments: ["topic", "alter", "orders", "--config", "linger.ms=900"], code: 64, message: "linger.ms must be an integer between 0 and 250"),
        Case(arguments: ["topic", "alter", "orders", "--config", "novalue"], code: 64, message: "is not key=value"),
        Case(arguments: ["cluster", "set", "demo", "missed.heartbeats.before.down=5"], code: 64, message: "setting \"demo\" is not key=value; write it like missed.heartbeats.before.down=5 (the cluster is --cluster NAME)"),
        Case(arguments: ["cluster", "set", "missed.heartbeats.before.down=0"], code: 64, message: "missed.heartbeats.before.down must be an integer between 1 and 100"),
        Case(arguments: ["topic", "list", "--cluster", "ghost"], code: 1, message: "cluster \"ghost\" not found; list clusters with 'amq cluster list'"),
        Case(arguments: ["cluster", "describe", "ghost"], code: 1, message: "cluster \"ghost\" not found"),
        Case(arguments: ["cluster", "create", "demo"], code: 1, message: "cluster \"demo\" already exists"),
        Case(arguments: ["cluster", "create", "other", "--object-store", "ftp://x/y"], code: 64, message: "unsupported scheme \"ftp\""),
        // Issue 11, findings 5 and 2: a directory only this machine sees, and a prefix already in use.
        Case(arguments: ["cluster", "create", "other"], code: 64, message: "a file:// object store only works when every agent sees the same directory"),
        Case(arguments: ["cluster", "create", "other", "--object-store", "memory://x"], code: 64, message: "a memory:// object store lives in one process"),
        Case(arguments: ["cluster", "create", "other", "--object-store", "s3://"], code: 64, message: "names no bucket"),
        Case(arguments: ["cluster", "create", "bad name!"], code: 64, message: "cluster name \"bad name!\" is invalid"),
        // Issue 12: security input that does not work says so in one line, without usage.
        Case(arguments: ["user", "create", "bob", "--password-file", "/nonexistent/pw"], code: 64, message: "cannot read the password file /nonexistent/pw"),
        Case(arguments: ["user", "create", "bob"], code: 64, message: "exactly one of --password-stdin or --password-file"),
        Case(arguments: ["acl", "add", "--principal", "alice", "--operation", "Read", "--topic", "t"], code: 64, message: "principal \"alice\" is not TYPE:NAME"),
        Case(arguments: ["acl", "remove", "--principal", "User:nobody", "--operation", "Read", "--topic", "t"], code: 64, message: "no such ACL; see amq acl list"),
        Case(arguments: ["node", "add", "--zone", "z9"], code: 1, message: "zone \"z9\" is not a zone of cluster \"demo\""),
        Case(arguments: ["node", "drain", "99"], code: 1, message: "node 99 not found"),
        Case(arguments: ["node", "remove", "1"], code: 1, message: "run 'amq node drain 1' first"),
        Case(arguments: ["topic", "frobnicate"], code: 64, message: "Unexpected argument 'frobnicate'"),
        Case(arguments: ["zone", "set-cidrs", "z9", "10.9.0.0/16"], code: 1, message: "zone \"z9\" is not a zone of cluster \"demo\" (zones: a, b)"),
        Case(arguments: ["zone", "set-cidrs", "a", "10.1.2.3/16"], code: 64, message: "CIDR block \"10.1.2.3/16\" is invalid: host bits are set; the network is 10.1.0.0/16; write it as network/prefix, e.g. 10.1.0.0/16 or fd00::/8"),
        Case(arguments: ["zone", "set-cidrs", "a", "10.1.0.0"], code: 64, message: "no /prefix length"),
        Case(arguments: ["zone", "set-cidrs", "a", "10.1.0.0/16,10.1.4.0/24"], code: 64, message: "CIDR blocks 10.1.0.0/16 and 10.1.4.0/24 of zone \"a\" overlap"),
        Case(arguments: ["zone", "set-cidrs", "a", "10.2.3.0/24"], code: 64, message: "CIDR block 10.2.3.0/24 of zone \"a\" overlaps 10.2.0.0/16 of zone \"b\""),
        Case(arguments: ["cluster", "create", "other", "--zones", "a,b", "--zone-cidrs", "c=10.1.0.0/16"], code: 64, message: "--zone-cidrs names zone \"c\", which is not in --zones (a, b)"),
        Case(arguments: ["cluster", "create", "other", "--zone-cidrs", "a=10.0.0.0/8", "--zone-cidrs", "b=10.1.0.0/16"], code: 64, message: "CIDR block 10.0.0.0/8 of zone \"a\" overlaps 10.1.0.0/16 of zone \"b\""),
        Case(arguments: ["cluster", "create", "other", "--zone-cidrs", "10.1.0.0/16"], code: 64, message: "is not zone=cidrs"),
        Case(arguments: ["agent", "run", "--controller", "http://127.0.0.1:1", "--zone", "a", "--node-id", "1", "--register-timeout", "1",
                               "--kafka-port", "0", "--admin-port", "0"],
             code: 69, message: "controller unreachable at http://127.0.0.1:1"),
        Case(arguments: ["agent", "run", "--controller", "not a url", "--zone", "a", "--node-id", "1"], code: 64, message: "controller URL \"not a url\" is malformed"),
    ]

    @Test(arguments: cases) func badInputIsRefusedAndChangesNothing(_ testCase: Case) async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            try await amq.ok(["cluster", "create", "demo", "--zones", "a,b", "--shared-file-store"])
            try await amq.ok(["topic", "create", "orders", "--partitions", "4"])
            try await amq.ok(["zone", "set-cidrs", "b", "10.2.0.0/16"])
            let secretFile = amq.dataDir + "/clusters/demo/secret"
            let before = try await amq.ok(["audit", "--format", "json"]).stdout
            let result = try await amq.run(testCase.arguments, environment: ["AMQ_CLUSTER_SECRET": "0123456789abcdef0123456789abcdef"])
            #expect(result.code == testCase.code, "stderr: \(result.stderr)")
            #expect(result.stderr.contains(testCase.message), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
            let after = try await amq.ok(["audit", "--format", "json"]).stdout
            #expect(before == after, "the database changed")
            #expect(FileManager.default.fileExists(atPath: secretFile))
        }
    }

    /// Issue 11, finding 2: a cluster never starts on a prefix that already holds objects (its
    /// garbage collection would delete them).
    @Test func aPrefixWithObjectsIsRefused() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            let objects = amq.dataDir + "/shared-objects"
            try FileManager.default.createDirectory(atPath: objects + "/wal/n1", withIntermediateDirectories: true)
            try "someone else's data".write(toFile: objects + "/wal/n1/object.amqs", atomically: true, encoding: .utf8)
            let result = try await amq.run(["cluster", "create", "late", "--local", "--object-store", "file://\(objects)"])
            #expect(result.code == 64, "\(result.stderr)")
            #expect(result.stderr.contains("already holds objects (like wal/n1/object.amqs)"), "\(result.stderr)")
            #expect(try String(contentsOfFile: objects + "/wal/n1/object.amqs", encoding: .utf8) == "someone else's data")
            #expect(try await amq.run(["cluster", "list"]).stdout.contains("late") == false)
        }
    }

    @Test func aFileThatIsNotAnAMQDatabaseIsRefusedUntouched() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            let path = amq.dataDir + "/notes.db"
            try "just some text\n".write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await amq.run(["cluster", "list", "--db", path])
            #expect(result.code == 1)
            #expect(result.stderr == "error: \(path) is not an amq database; point --db (or AMQ_DB) at the file 'amq cluster create' made\n")
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "just some text\n")
        }
    }

    @Test func noClusterYetSaysHowToCreateOne() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            let result = try await amq.run(["topic", "list"])
            #expect(result.code == 1)
            #expect(result.stderr.contains("create one with 'amq cluster create NAME --local'"))
        }
    }

    /// Several `amq` processes change one database at once: no update is lost, no version repeats.
    @Test(.timeLimit(.minutes(3))) func parallelProcessesLoseNoUpdate() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            try await amq.ok(["cluster", "create", "demo", "--zones", "a,b,c", "--agents-per-zone", "2", "--shared-file-store"])
            let processes = 6
            let perProcess = 5
            try await withThrowingTaskGroup(of: Void.self) { group in
                for process in 0..<processes {
                    group.addTask {
                        for index in 0..<perProcess {
                            try await amq.ok(["topic", "create", "t\(process)-\(index)", "--partitions", "3"])
                            try await amq.ok(["topic", "alter", "t\(process)-\(index)", "--config", "retention.ms=\(1000 + index)"])
                        }
                    }
                }
                try await group.waitForAll()
            }
            struct Topic: Decodable { var name: String }
            struct Audit: Decodable { var topologyVersion: Int; var action: String }
            let topics = try await amq.json([Topic].self, ["topic", "list"])
            #expect(topics.count == processes * perProcess)
            let audit = try await amq.json([Audit].self, ["audit", "--limit", "1000"])
            let changes = audit.filter { $0.action.hasPrefix("topic.") }
            #expect(changes.count == 2 * processes * perProcess)
            #expect(Set(audit.map(\.topologyVersion)).count == audit.count)
            #expect(audit.map(\.topologyVersion).max() == audit.count)
        }
    }
}
