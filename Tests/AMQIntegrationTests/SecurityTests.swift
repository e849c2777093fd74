import AMQTestSupport
import Foundation
import Testing

/// Issue 12's proof on real processes: a three-zone local cluster made with `--tls --sasl`, kcat,
/// kafka-python and confluent-kafka over SASL_SSL (Tests/Conformance/security_test.py: logins,
/// refusals with Kafka's error codes and nothing written, ACLs through the CLI and the Kafka API,
/// the records API behind the secret, mutual TLS refusing a foreign CA); KIP-368 re-authentication
/// (reauth_test.py); a certificate reload on SIGHUP; and no secret in any log, output, audit entry
/// or process argument of the whole run.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SecurityTests {
    struct Status: Decodable {
        struct Security: Decodable {
            var kafkaProtocol: String
            var caFile: String?
            var adminPasswordFile: String?
            var secretFile: String
        }
        var controller: StatusJSON.Controller
        var agents: [StatusJSON.Agent]
        var security: Security?
    }

    @Test func aSecureLocalClusterLetsInOnlyWhomItShould() async throws {
        try await AMQProcess.with(cluster: "sec") { amq in
            var outputs: [String] = []
            func record(_ result: ExternalProcess.Result) { outputs += [result.stdout, result.stderr] }
            record(try await amq.ok(["cluster", "create", "sec", "--local", "--zones", "a,b,c", "--agents-per-zone", "1", "--tls", "--sasl"]))
            let status = try await amq.json(Status.self, ["cluster", "status", "sec"])
            let security = try #require(status.security)
            #expect(security.kafkaProtocol == "SASL_SSL")
            #expect(status.controller.url?.hasPrefix("https://") == true)

            let conformance = try await ExternalProcess.run(
                KafkaConformanceTests.python, [KafkaConformanceTests.scripts + "/security_test.py", "--amq", AMQProcess.binary, "--cluster", "sec"],
                environment: ["AMQ_DATA_DIR": amq.dataDir], deadline: .seconds(300)
            )
            record(conformance)
            #expect(conformance.code == 0 && conformance.stdout.contains("security: OK"), "\(conformance.stdout.suffix(4000))\n\(conformance.stderr.suffix(3000))")

            // amq's own Kafka commands reach the secure cluster with its CA and super user, and
            // refuse a wrong password with what to check.
            record(try await amq.ok(["topic", "create", "cli-t", "--partitions", "1", "--cluster", "sec"]))
            record(try await amq.ok(["produce", "cli-t", "--cluster", "sec"], input: "k=v\n"))
            let consumed = try await amq.ok(["consume", "cli-t", "--cluster", "sec", "--from-beginning", "--count", "1", "--print-keys"])
            record(consumed)
            #expect(consumed.stdout.contains("k=v"), "\(consumed.stdout)")
            record(try await amq.ok(["user", "create", "carol", "--cluster", "sec", "--password-stdin"], input: "carol-password\n"))
            let wrongFile = amq.dataDir + "/carol.wrong"
            try "not-carols-password\n".write(toFile: wrongFile, atomically: true, encoding: .utf8)
            let refused = try await amq.run(["consume", "cli-t", "--cluster", "sec", "--count", "1", "--sasl-user", "carol", "--sasl-password-file", wrongFile])
            record(refused)
            #expect(refused.code != 0 && refused.stderr.contains("SASL authentication as carol") && !refused.stderr.contains("not-carols-password"), "\(refused.stderr)")

            record(try await amq.ok(["cluster", "set", "connections.max.reauth.ms=1500", "--cluster", "sec"]))
            let reauth = try await ExternalProcess.run(
                KafkaConformanceTests.python, [KafkaConformanceTests.scripts + "/reauth_test.py", "--amq", AMQProcess.binary, "--cluster", "sec"],
                environment: ["AMQ_DATA_DIR": amq.dataDir], deadline: .seconds(120)
            )
            record(reauth)
            #expect(reauth.code == 0 && reauth.stdout.contains("reauth: OK"), "\(reauth.stdout.suffix(3000))\n\(reauth.stderr.suffix(3000))")

            // SIGHUP: the agent reads its certificate again and keeps serving.
            let agent = try #require(status.agents.first)
            let pid = try #require(agent.pid)
            let log = amq.dataDir + "/clusters/sec/logs/agent-\(agent.nodeId).log"
            kill(pid_t(pid), SIGHUP)
            #expect(await eventually(timeout: .seconds(10)) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("TLS certificate reloaded") })
            #expect(isAlive(pid))

            // Secrets: never in outputs, logs, the audit log, status, or the daemons' arguments.
            record(try await amq.ok(["audit", "--cluster", "sec", "--limit", "1000", "--format", "json"]))
            record(try await amq.ok(["cluster", "status", "sec"]))
            record(try await amq.ok(["cluster", "describe", "sec", "--format", "json"]))
            record(try await amq.ok(["user", "list", "--cluster", "sec", "--format", "json"]))
            let logs = amq.dataDir + "/clusters/sec/logs"
            for file in try FileManager.default.contentsOfDirectory(atPath: logs) {
                outputs.append(try String(contentsOfFile: logs + "/" + file, encoding: .utf8))
            }
            for pid in status.agents.compactMap(\.pid) + [status.controller.pid].compactMap({ $0 }) {
                let arguments = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
                #expect(!arguments.isEmpty)
                outputs.append(arguments)
            }
            let secret = try String(contentsOfFile: security.secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let password = try String(contentsOfFile: try #require(security.adminPasswordFile), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(secret.count >= 16 && password.count >= 16)
            for (name, value) in [("cluster secret", secret), ("admin password", password), ("a user's password", "carol-password"), ("private key", "PRIVATE KEY")] {
                let leaks = outputs.filter { $0.contains(value) }
                #expect(leaks.isEmpty, "the \(name) appears in \(leaks.count) output(s) or log(s), like: \(leaks.first?.prefix(300) ?? "")")
            }
            for file in [security.secretFile, try #require(security.adminPasswordFile), amq.dataDir + "/clusters/sec/tls/node-key.pem", amq.dataDir + "/clusters/sec/tls/ca-key.pem"] {
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file) has mode \(String(mode ?? 0, radix: 8))")
            }
        }
    }
}
