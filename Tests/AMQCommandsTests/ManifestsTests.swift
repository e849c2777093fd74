import AMQCommands
import ArgumentParser
import Foundation
import Testing
import Yams

/// The deployment manifests parse, and every amq command line in them parses with the real CLI,
/// so a renamed or removed flag breaks this test rather than a deployment.
@Suite struct ManifestsTests {
    static let root = CompletionsTests.root

    /// Substitutes `$(VAR)` (Kubernetes) and `${VAR}` (systemd) with a plausible value.
    static func expand(_ argument: String) -> String {
        var text = argument
        for pattern in [#"\$\(([A-Z_]+)\)"#, #"\$\{([A-Z_]+)\}"#] {
            let regex = try! NSRegularExpression(pattern: pattern)
            while let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                let name = String(text[Range(match.range(at: 1), in: text)!])
                let value = ["AMQ_NODE_ID": "1", "AMQ_CONTROLLER_LISTEN": "0.0.0.0:7070", "AMQ_CONTROLLER_URL": "http://10.0.0.5:7070"][name] ?? "value"
                text.replaceSubrange(Range(match.range, in: text)!, with: value)
            }
        }
        return text
    }

    static func parse(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let expanded = arguments.map(expand)
        do {
            _ = try AMQCommand.parseAsRoot(expanded)
        } catch {
            Issue.record("amq \(expanded.joined(separator: " ")) does not parse: \(AMQCommand.message(for: error))", sourceLocation: sourceLocation)
        }
    }

    @Test func kubernetesManifestsParseAndUseRealFlags() throws {
        let text = try String(contentsOfFile: Self.root.appendingPathComponent("manifests/kubernetes/amq.yaml").path, encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let kinds = documents.compactMap { $0["kind"] as? String }
        // Agents are StatefulSets: pod names, and so node names, survive restarts (issue 11, finding 10).
        #expect(kinds.filter { $0 == "StatefulSet" }.count == 4 && !kinds.contains("Deployment"))
        #expect(kinds.contains("ConfigMap") && kinds.contains("Service"))
        // The data is in S3: a file:// store would be one per pod (issue 11, finding 5).
        #expect(text.contains("--object-store \"$AMQ_OBJECT_STORE\"") && text.contains("AMQ_OBJECT_STORE: s3://"))
        var commandLines = 0
        for document in documents {
            guard let spec = document["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
                let podSpec = template["spec"] as? [String: Any], let containers = podSpec["containers"] as? [[String: Any]]
            else { continue }
            let name = (document["metadata"] as? [String: Any])?["name"] as? String ?? ""
            if name.hasPrefix("amq-agent-") {
                let selector = podSpec["nodeSelector"] as? [String: String]
                #expect(selector?["topology.kubernetes.io/zone"] != nil, "agents must be pinned to a zone")
            } else if document["kind"] as? String == "StatefulSet" {
                #expect((spec["volumeClaimTemplates"] as? [Any])?.isEmpty == false, "the controller needs a volume for SQLite")
            }
            for container in containers {
                guard let args = container["args"] as? [String] else { continue }
                Self.parse(args)
                commandLines += 1
            }
        }
        #expect(commandLines == 4)
    }

    @Test(arguments: ["amq-controller.service", "amq-agent@.service"])
    func systemdUnitsUseRealFlags(_ unit: String) throws {
        let text = try String(contentsOfFile: Self.root.appendingPathComponent("manifests/systemd/\(unit)").path, encoding: .utf8)
        let execStart = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let words = execStart.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        #expect(words.first == "/usr/local/bin/amq")
        Self.parse(Array(words.dropFirst()))
        #expect(text.contains("EnvironmentFile="))
    }
}
