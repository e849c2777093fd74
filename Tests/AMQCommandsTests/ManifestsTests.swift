import AMQCommands
import ArgumentParser
import Foundation
import Testing
import Yams

/// The deployment manifests are valid and every amq command line in them parses with the real CLI
/// (containers, init containers and their shell scripts, systemd ExecStart lines and the commands
/// their comments tell an operator to run), with variables expanded from the ConfigMap, the pod's
/// environment and the env examples; so a renamed or removed flag, or a variable nobody sets,
/// breaks this test rather than a deployment.
@Suite struct ManifestsTests {
    static let root = CompletionsTests.root
    static let kubernetesManifest = root.appendingPathComponent("manifests/kubernetes/amq.yaml").path
    /// The Kubernetes release whose schemas (bundled with kubernetes-validate) the manifest must pass.
    static let kubernetesVersion = "1.33.0"
    static let tlsFlags = ["--tls-cert", "--tls-key", "--tls-ca", "--tls-client-auth"]

    static var venv: String {
        ProcessInfo.processInfo.environment["AMQ_TEST_VENV"] ?? root.appendingPathComponent(".venv").path
    }

    // MARK: Command lines

    /// Which variable references a command line's expander replaces.
    enum Expansion {
        /// The kubelet's `$(VAR)` in command and args.
        case kubernetes
        /// A `sh -c` script in a pod: the kubelet's `$(VAR)`, then the shell's `${VAR}` and `$VAR`.
        case shell
        /// systemd's `${VAR}` and `$VAR` (from EnvironmentFile=).
        case systemd

        var patterns: [String] {
            let name = "([A-Za-z_][A-Za-z0-9_]*)"
            switch self {
            case .kubernetes: return [#"\$\("# + name + #"\)"#]
            case .shell: return [#"\$\("# + name + #"\)"#, #"\$\{"# + name + #"\}"#, #"\$"# + name]
            case .systemd: return [#"\$\{"# + name + #"\}"#, #"\$"# + name]
            }
        }
    }

    /// Replaces the variable references of `syntax` with their values; a variable with no value,
    /// or a reference left unexpanded, is an issue (the kubelet and systemd would pass it on as is
    /// or as an empty word).
    static func expand(
        _ word: String, _ syntax: Expansion, _ variables: [String: String], where place: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        var text = word
        for pattern in syntax.patterns {
            let regex = try! NSRegularExpression(pattern: pattern)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
                let name = String(text[Range(match.range(at: 1), in: text)!])
                let value = variables[name] ?? {
                    Issue.record("\(place): variable \(name) is used but never set", sourceLocation: sourceLocation)
                    return "unset"
                }()
                text.replaceSubrange(Range(match.range, in: text)!, with: value)
            }
        }
        if text.contains("$") {
            Issue.record("\(place): \"\(word)\" keeps a \"$\" after expansion (\(syntax) syntax)", sourceLocation: sourceLocation)
        }
        return text
    }

    static func parse(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try AMQCommand.parseAsRoot(arguments)
        } catch {
            Issue.record("amq \(arguments.joined(separator: " ")) does not parse: \(AMQCommand.message(for: error))", sourceLocation: sourceLocation)
        }
    }

    /// Splits a shell script, or a systemd command line, into simple commands: words with their
    /// quotes removed, split at newlines, `;`, `&&`, `||`, `|` and `&`; redirections and comments
    /// dropped, and `if`, `then`, `exec` and the like taken off a command's start.
    static func simpleCommands(_ script: String) -> [[String]] {
        let characters = Array(script)
        var commands: [[String]] = []
        var words: [String] = []
        var word = ""
        var inWord = false
        var dropNextWord = false
        func endWord() {
            if inWord {
                if dropNextWord { dropNextWord = false } else { words.append(word) }
            }
            word = ""
            inWord = false
        }
        func endCommand() {
            endWord()
            let keywords: Set<String> = ["if", "then", "else", "elif", "while", "until", "do", "exec", "!", "{"]
            while let first = words.first, keywords.contains(first) { words.removeFirst() }
            if !words.isEmpty { commands.append(words) }
            words = []
        }
        var index = 0
        while index < characters.count {
            let character = characters[index]
            index += 1
            switch character {
            case "\\":
                if index < characters.count {
                    if characters[index] != "\n" {
                        word.append(characters[index])
                        inWord = true
                    }
                    index += 1
                }
            case "'":
                inWord = true
                while index < characters.count, characters[index] != "'" {
                    word.append(characters[index])
                    index += 1
                }
                index += 1
            case "\"":
                inWord = true
                while index < characters.count, characters[index] != "\"" {
                    if characters[index] == "\\", index + 1 < characters.count, "\"\\$`".contains(characters[index + 1]) { index += 1 }
                    word.append(characters[index])
                    index += 1
                }
                index += 1
            case " ", "\t":
                endWord()
            case "\n", ";", "&", "|":
                endCommand()
                if character != "\n", character != ";", index < characters.count, characters[index] == character { index += 1 }
            case "#" where !inWord:
                while index < characters.count, characters[index] != "\n" { index += 1 }
            case ">", "<":
                // `2>&1`, `>/dev/null`, `> file`: the descriptor and the target are not arguments.
                if inWord, word.allSatisfy(\.isNumber) {
                    word = ""
                    inWord = false
                } else {
                    endWord()
                }
                while index < characters.count, characters[index] == ">" { index += 1 }
                if index < characters.count, characters[index] == "&" {
                    index += 1
                    while index < characters.count, characters[index].isNumber || characters[index] == "-" { index += 1 }
                } else {
                    dropNextWord = true
                }
            default:
                word.append(character)
                inWord = true
            }
        }
        endCommand()
        return commands
    }

    static func isAMQ(_ program: String) -> Bool {
        program == "amq" || program.hasSuffix("/amq")
    }

    /// The value given to `flag` (`--flag value` or `--flag=value`).
    static func value(of flag: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == flag, index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix(flag + "=") { return String(argument.dropFirst(flag.count + 1)) }
        }
        return nil
    }

    // MARK: Kubernetes

    static func kubernetesDocuments() throws -> (text: String, documents: [[String: Any]]) {
        let text = try String(contentsOfFile: kubernetesManifest, encoding: .utf8)
        return (text, try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] })
    }

    /// One amq command line in a pod template, expanded as the kubelet (and the shell) would.
    struct PodCommandLine {
        var workload: String
        var container: [String: Any]
        var pod: [String: Any]
        var arguments: [String]
        var isDaemon: Bool { arguments.count >= 2 && arguments[1] == "run" && ["controller", "agent"].contains(arguments[0]) }
    }

    static func pods(_ documents: [[String: Any]]) -> [(name: String, kind: String, spec: [String: Any], pod: [String: Any])] {
        documents.compactMap { document in
            guard let spec = document["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
                let pod = template["spec"] as? [String: Any]
            else { return nil }
            let name = (document["metadata"] as? [String: Any])?["name"] as? String ?? ""
            return (name: name, kind: document["kind"] as? String ?? "", spec: spec, pod: pod)
        }
    }

    static func containers(of pod: [String: Any]) -> [[String: Any]] {
        (pod["initContainers"] as? [[String: Any]] ?? []) + (pod["containers"] as? [[String: Any]] ?? [])
    }

    /// A container's environment as the kubelet builds it: the ConfigMaps of envFrom, then env
    /// (downward-API fields and secret keys get plausible values).
    static func environment(of container: [String: Any], workload: String, configMaps: [String: [String: String]]) -> [String: String] {
        var result: [String: String] = [:]
        for source in container["envFrom"] as? [[String: Any]] ?? [] {
            if let name = (source["configMapRef"] as? [String: Any])?["name"] as? String {
                result.merge(configMaps[name] ?? [:]) { $1 }
            }
        }
        for variable in container["env"] as? [[String: Any]] ?? [] {
            guard let name = variable["name"] as? String else { continue }
            if let value = variable["value"] as? String {
                result[name] = value
                continue
            }
            let valueFrom = variable["valueFrom"] as? [String: Any] ?? [:]
            switch (valueFrom["fieldRef"] as? [String: Any])?["fieldPath"] as? String {
            case "metadata.name": result[name] = workload + "-0"
            case "metadata.namespace": result[name] = "default"
            case "status.podIP": result[name] = "10.0.1.11"
            default: result[name] = "from-" + name.lowercased()
            }
        }
        return result
    }

    /// Every amq command line of every pod template; with `parsing`, each parsed with the real CLI.
    static func podCommandLines(
        _ documents: [[String: Any]], parsing: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) -> [PodCommandLine] {
        var configMaps: [String: [String: String]] = [:]
        for document in documents where document["kind"] as? String == "ConfigMap" {
            if let name = (document["metadata"] as? [String: Any])?["name"] as? String {
                configMaps[name] = document["data"] as? [String: String] ?? [:]
            }
        }
        var lines: [PodCommandLine] = []
        for (workload, _, _, pod) in pods(documents) {
            for container in containers(of: pod) {
                let place = "\(workload), container \(container["name"] as? String ?? "?")"
                let variables = environment(of: container, workload: workload, configMaps: configMaps)
                let command = container["command"] as? [String] ?? []
                let args = container["args"] as? [String] ?? []
                if command == ["/bin/sh", "-c"] || command == ["sh", "-c"] {
                    let script = args.first ?? ""
                    let found = simpleCommands(script).filter { isAMQ($0[0]) }
                    #expect(!found.isEmpty, "\(place) runs a script with no amq command", sourceLocation: sourceLocation)
                    for words in found {
                        let arguments = words.dropFirst().map { expand($0, .shell, variables, where: place, sourceLocation: sourceLocation) }
                        lines.append(PodCommandLine(workload: workload, container: container, pod: pod, arguments: arguments))
                    }
                } else {
                    #expect(command == ["amq"], "\(place) must run amq itself (command: [amq]), not \(command)", sourceLocation: sourceLocation)
                    let arguments = args.map { expand($0, .kubernetes, variables, where: place, sourceLocation: sourceLocation) }
                    lines.append(PodCommandLine(workload: workload, container: container, pod: pod, arguments: arguments))
                }
            }
        }
        if parsing {
            for line in lines { parse(line.arguments, sourceLocation: sourceLocation) }
        }
        return lines
    }

    @Test func kubernetesManifestsParseAndUseRealFlags() throws {
        let (_, documents) = try Self.kubernetesDocuments()
        let kinds = documents.compactMap { $0["kind"] as? String }
        // Agents are StatefulSets: pod names, and so node names, survive restarts (issue 11, finding 10).
        #expect(kinds.filter { $0 == "StatefulSet" }.count == 4 && !kinds.contains("Deployment"))
        #expect(kinds.contains("ConfigMap") && kinds.contains("Service"))
        for (name, kind, spec, pod) in Self.pods(documents) {
            #expect(kind == "StatefulSet", "\(name) is a \(kind)")
            if name.hasPrefix("amq-agent-") {
                let selector = pod["nodeSelector"] as? [String: String]
                #expect(selector?["topology.kubernetes.io/zone"] != nil, "agents must be pinned to a zone")
            } else {
                #expect((spec["volumeClaimTemplates"] as? [Any])?.isEmpty == false, "the controller needs a volume for SQLite")
            }
        }

        let lines = Self.podCommandLines(documents, parsing: true)
        let daemons = lines.filter(\.isDaemon)
        #expect(daemons.filter { $0.arguments[0] == "controller" }.count == 1)
        #expect(daemons.filter { $0.arguments[0] == "agent" }.count == 3)
        // The init container creates the cluster (after looking for it) in the controller's database.
        let creates = lines.filter { $0.arguments.starts(with: ["cluster", "create"]) }
        try #require(creates.count == 1, "one command line runs amq cluster create")
        let create = creates[0].arguments
        let controller = try #require(daemons.first { $0.arguments[0] == "controller" })
        #expect(creates[0].workload == controller.workload)
        #expect(Self.value(of: "--db", in: create) == Self.value(of: "--db", in: controller.arguments))
        // The data is in S3: a file:// store would be one per pod (issue 11, finding 5).
        #expect(Self.value(of: "--object-store", in: create)?.hasPrefix("s3://") == true)
        #expect(lines.count == daemons.count + 2, "the init script runs cluster describe, then cluster create")

        // The SQLite file is on the controller's PersistentVolumeClaim.
        let database = try #require(Self.value(of: "--db", in: controller.arguments))
        let mounts = controller.container["volumeMounts"] as? [[String: Any]] ?? []
        let controllerSpec = Self.pods(documents).first { $0.name == controller.workload }?.spec ?? [:]
        let claims = (controllerSpec["volumeClaimTemplates"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(mounts.contains { mount in
            claims.contains(mount["name"] as? String ?? "") && database.hasPrefix((mount["mountPath"] as? String ?? "") + "/")
        }, "\(database) must be on a volumeClaimTemplate")

        // Each agent serves the zone its pods are pinned to, one of the cluster's zones.
        let zones = Set((Self.value(of: "--zones", in: create) ?? "").split(separator: ",").map(String.init))
        for agent in daemons where agent.arguments[0] == "agent" {
            let pinned = (agent.pod["nodeSelector"] as? [String: String])?["topology.kubernetes.io/zone"]
            let zone = Self.value(of: "--zone", in: agent.arguments)
            #expect(zone != nil && zone == pinned, "\(agent.workload): --zone \(zone ?? "none") but pinned to \(pinned ?? "no zone")")
            #expect(zones.contains(zone ?? ""), "\(agent.workload): zone \(zone ?? "none") is not in --zones of cluster create")
        }
    }

    /// Where a file path in a container comes from: the Secret or ConfigMap and key behind its mount.
    static func fileSource(_ path: String, container: [String: Any], pod: [String: Any]) -> (kind: String, name: String, key: String)? {
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        guard let mount = mounts.first(where: { path.hasPrefix(($0["mountPath"] as? String ?? "") + "/") }),
            let mountPath = mount["mountPath"] as? String,
            let volume = (pod["volumes"] as? [[String: Any]] ?? []).first(where: { $0["name"] as? String == mount["name"] as? String })
        else { return nil }
        let file = String(path.dropFirst(mountPath.count + 1))
        func key(in source: [String: Any]) -> String? {
            guard let items = source["items"] as? [[String: Any]] else { return file }
            return items.first { $0["path"] as? String == file }?["key"] as? String
        }
        if let secret = volume["secret"] as? [String: Any], let name = secret["secretName"] as? String, let key = key(in: secret) {
            return ("Secret", name, key)
        }
        for source in (volume["projected"] as? [String: Any])?["sources"] as? [[String: Any]] ?? [] {
            for kind in ["secret", "configMap"] {
                if let reference = source[kind] as? [String: Any], let name = reference["name"] as? String, let key = key(in: reference) {
                    return (kind == "secret" ? "Secret" : "ConfigMap", name, key)
                }
            }
        }
        return nil
    }

    @Test func kubernetesSecretsComeFromSecretsAndTLSFromMountedFiles() throws {
        let (text, documents) = try Self.kubernetesDocuments()
        let secretName = try NSRegularExpression(pattern: "(SECRET|PASSWORD|TOKEN|ACCESS_KEY)")
        func looksSecret(_ name: String) -> Bool { secretName.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil }
        for document in documents where document["kind"] as? String == "ConfigMap" {
            let data = document["data"] as? [String: Any] ?? [:]
            #expect(!data.keys.contains(where: looksSecret), "a ConfigMap holds \(data.keys.filter(looksSecret))")
            #expect((data["AMQ_CONTROLLER_URL"] as? String)?.hasPrefix("https://") != false, "with TLS the controller URL is https://")
        }
        #expect(!documents.contains { $0["kind"] as? String == "Secret" }, "secrets are created with kubectl, never shipped in the manifest")
        for (workload, _, _, pod) in Self.pods(documents) {
            for container in Self.containers(of: pod) {
                for variable in container["env"] as? [[String: Any]] ?? [] {
                    guard let name = variable["name"] as? String, looksSecret(name) else { continue }
                    #expect(variable["value"] == nil, "\(workload): \(name) is literal")
                    #expect(((variable["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: Any]) != nil, "\(workload): \(name) must come from a secretKeyRef")
                }
            }
        }
        var tlsSecrets: Set<String> = []
        for line in Self.podCommandLines(documents) where line.isDaemon {
            let place = "\(line.workload): amq \(line.arguments.prefix(2).joined(separator: " "))"
            for flag in ["--secret-file"] + Self.tlsFlags {
                #expect(Self.value(of: flag, in: line.arguments) != nil, "\(place) has no \(flag)")
            }
            // The kubelet's HTTPS probes present no client certificate.
            #expect(Self.value(of: "--tls-client-auth", in: line.arguments) != "required", "\(place): client auth 'required' fails the probes")
            func source(_ flag: String) -> (kind: String, name: String, key: String)? {
                Self.value(of: flag, in: line.arguments).flatMap { Self.fileSource($0, container: line.container, pod: line.pod) }
            }
            let secret = source("--secret-file")
            #expect(secret?.kind == "Secret", "\(place): --secret-file must be a file of a mounted Secret")
            let certificate = source("--tls-cert")
            let key = source("--tls-key")
            #expect(certificate?.kind == "Secret" && certificate?.key == "tls.crt", "\(place): --tls-cert must be tls.crt of a kubernetes.io/tls Secret")
            #expect(key?.kind == "Secret" && key?.key == "tls.key" && key?.name == certificate?.name, "\(place): --tls-key must be tls.key of the same Secret")
            #expect(source("--tls-ca")?.key == "ca.crt", "\(place): --tls-ca must be a mounted ca.crt")
            if let name = certificate?.name { tlsSecrets.insert(name) }
        }
        for name in tlsSecrets {
            // `kubectl create secret tls` makes a Secret of type kubernetes.io/tls.
            #expect(text.contains("kubectl create secret tls \(name) "), "the manifest must say how to create the TLS Secret \(name)")
        }
        #expect(!tlsSecrets.isEmpty)
    }

    /// The container port a probe's port (a number or a port name) means.
    static func probePort(_ probe: [String: Any]?, container: [String: Any]) -> Int? {
        let port = (probe?["httpGet"] as? [String: Any])?["port"]
        if let number = port as? Int { return number }
        guard let name = port as? String else { return nil }
        return (container["ports"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name }?["containerPort"] as? Int
    }

    @Test func probesHitHealthzAndReadyzOnTheAdminPortOverHTTPS() throws {
        let (_, documents) = try Self.kubernetesDocuments()
        let daemons = Self.podCommandLines(documents).filter(\.isDaemon)
        #expect(daemons.count == 4)
        for line in daemons {
            let isAgent = line.arguments[0] == "agent"
            let port: Int? = isAgent
                ? Int(Self.value(of: "--admin-port", in: line.arguments) ?? "9644")
                : Self.value(of: "--listen", in: line.arguments).flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
            let scheme = Self.value(of: "--tls-cert", in: line.arguments) == nil ? "HTTP" : "HTTPS"
            for (kind, path) in [("readinessProbe", isAgent ? "/readyz" : "/healthz"), ("livenessProbe", "/healthz")] {
                let probe = line.container[kind] as? [String: Any]
                let get = probe?["httpGet"] as? [String: Any]
                #expect(get?["path"] as? String == path, "\(line.workload): \(kind) must get \(path)")
                #expect(port != nil && Self.probePort(probe, container: line.container) == port, "\(line.workload): \(kind) must hit port \(port.map { "\($0)" } ?? "?")")
                #expect((get?["scheme"] as? String ?? "HTTP") == scheme, "\(line.workload): \(kind) must use \(scheme)")
            }
        }
    }

    /// kubernetes-validate (installed by scripts/test.sh from scripts/test-requirements.txt)
    /// checks every resource against the Kubernetes OpenAPI schemas, rejecting unknown fields.
    @Test func kubernetesValidateAcceptsTheManifestStrictly() throws {
        let tool = Self.venv + "/bin/kubernetes-validate"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            Issue.record("\(tool) is missing: run scripts/test.sh, which installs scripts/test-requirements.txt into the virtual environment (AMQ_TEST_VENV, else .venv)")
            return
        }
        let arguments = ["--strict", "--kubernetes-version", Self.kubernetesVersion, Self.kubernetesManifest]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let command = ([tool] + arguments).joined(separator: " ")
        let lines = output.split(separator: "\n")
        let passed = lines.filter { $0.hasPrefix("INFO") && $0.contains(" passed for resource ") }
        let resources = try Self.kubernetesDocuments().documents.count
        if process.terminationStatus != 0 || lines.contains(where: { !$0.hasPrefix("INFO") }) || passed.count != resources {
            Issue.record("\(command) exited with status \(process.terminationStatus), \(passed.count) of \(resources) resources passed:\n\(output)")
        }
    }

    // MARK: systemd

    /// A unit's lines with continuations (a trailing backslash) joined, comments left out.
    static func unitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasSuffix("\\") {
                pending += String(line.dropLast()) + " "
            } else {
                lines.append(pending + line)
                pending = ""
            }
        }
        return lines
    }

    /// amq command lines a file's comments tell the operator to run: comment lines indented like
    /// code (`#   amq cluster create …`), continued with a backslash.
    static func documentedCommands(_ text: String) -> [[String]] {
        var commands: [[String]] = []
        var pending: String?
        for raw in text.split(separator: "\n") where raw.hasPrefix("#") {
            let comment = raw.dropFirst()
            let indent = comment.prefix { $0 == " " }.count
            let line = String(comment.dropFirst(indent))
            if pending == nil, indent < 2 || !line.hasPrefix("amq ") { continue }
            if line.hasSuffix("\\") {
                pending = (pending ?? "") + String(line.dropLast()) + " "
            } else {
                commands += simpleCommands((pending ?? "") + line).filter { isAMQ($0[0]) }
                pending = nil
            }
        }
        return commands
    }

    /// `KEY=value` lines of an environment file.
    static func environmentFile(_ text: String) -> [String: String] {
        var variables: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" { value = String(value.dropFirst().dropLast()) }
            variables[line[..<equals].trimmingCharacters(in: .whitespaces)] = value
        }
        return variables
    }

    @Test(arguments: [
        ("amq-controller.service", "controller.env.example", "controller"),
        ("amq-agent@.service", "agent.env.example", "agent"),
    ])
    func systemdUnitsUseRealFlagsAndTheirEnvironmentFiles(_ unit: String, _ example: String, _ daemon: String) throws {
        let directory = Self.root.appendingPathComponent("manifests/systemd")
        let text = try String(contentsOfFile: directory.appendingPathComponent(unit).path, encoding: .utf8)
        let exampleText = try String(contentsOfFile: directory.appendingPathComponent(example).path, encoding: .utf8)
        let variables = Self.environmentFile(exampleText)
        let lines = Self.unitLines(text)
        // systemd specifiers: the instance of amq-agent@1 is 1.
        func specifiers(_ word: String) -> String { word.replacingOccurrences(of: "%i", with: "1").replacingOccurrences(of: "%%", with: "%") }

        let environmentFiles = lines.filter { $0.hasPrefix("EnvironmentFile=") }.map { specifiers(String($0.dropFirst("EnvironmentFile=".count))) }
        #expect(environmentFiles.count == 1)
        // The example says which file it is: the one the unit reads.
        #expect(environmentFiles.allSatisfy { exampleText.contains($0) }, "\(example) must be \(environmentFiles)")

        let execStarts = lines.filter { $0.hasPrefix("ExecStart=") }
        try #require(execStarts.count == 1)
        let commands = Self.simpleCommands(String(execStarts[0].dropFirst("ExecStart=".count)))
        try #require(commands.count == 1)
        let words = commands[0]
        #expect(words.first == "/usr/local/bin/amq")
        // Options belong to the subcommand: `amq controller run --db …`, never `amq --db … controller run`.
        #expect(Array(words.dropFirst().prefix(2)) == [daemon, "run"], "ExecStart must start with amq \(daemon) run")
        let arguments = words.dropFirst().map { Self.expand(specifiers($0), .systemd, variables, where: "\(unit) with \(example)") }
        Self.parse(arguments)
        for flag in ["--secret-file"] + Self.tlsFlags {
            #expect(Self.value(of: flag, in: arguments) != nil, "\(unit) has no \(flag)")
        }
        if daemon == "agent" {
            #expect(Self.value(of: "--controller", in: arguments)?.hasPrefix("https://") == true, "with TLS the controller URL is https://")
        }
        // Secret files (cluster secret, TLS key, the env file with S3 credentials) are mode 0600.
        #expect(text.contains("0600") && exampleText.contains("0600"))

        for command in Self.documentedCommands(text) { Self.parse(Array(command.dropFirst())) }
        if daemon == "controller" {
            #expect(Self.documentedCommands(text).contains { $0.dropFirst().starts(with: ["cluster", "create"]) }, "\(unit) must say how to create the cluster")
        }
    }
}
