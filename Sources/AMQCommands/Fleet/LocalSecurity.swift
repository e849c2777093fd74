import AMQControlPlane
import AMQSecurity
import Foundation

/// How a local cluster's processes are secured (`amq cluster create --local --tls --sasl`): kept
/// in `DIR/security.json` so `cluster start` launches them alike, and so `cluster status` and the
/// CLI's own calls know the CA and the credentials' files. Holds paths, never secrets.
struct LocalSecurity: Codable, Sendable, Equatable {
    /// The Kafka listeners' protocol.
    var kafkaProtocol: SecurityProtocol = .plaintext
    /// The throwaway CA's files, when the cluster runs TLS.
    var tls: LocalCertificateAuthority.Files?
    /// The super user created with --sasl, and the file holding its password.
    var adminUser: String?
    var adminPasswordFile: String?

    static func load(_ layout: FleetLayout) -> LocalSecurity {
        guard let data = FileManager.default.contents(atPath: layout.securityFile),
            let security = try? JSONDecoder().decode(LocalSecurity.self, from: data)
        else { return LocalSecurity() }
        return security
    }

    func save(_ layout: FleetLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try LocalCertificateAuthority.write(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: layout.securityFile, mode: 0o600)
    }

    /// The TLS options every local daemon gets: mutual TLS between agents and the controller.
    var daemonArguments: [String] {
        guard let tls else { return [] }
        return ["--tls-cert", tls.certificateFile, "--tls-key", tls.keyFile, "--tls-ca", tls.caFile, "--tls-client-auth", "required"]
    }

    /// How this machine's CLI reaches the controller and the agents' admin listeners.
    var clientTLS: TLSClientFiles? {
        tls.map { TLSClientFiles(caFile: $0.caFile, certificateFile: $0.certificateFile, keyFile: $0.keyFile) }
    }

    /// A control client for `url` (https with the cluster CA and certificate when TLS is on).
    func controlClient(_ url: String, secret: ClusterSecret) throws -> ControlClient {
        try ControlClient(baseURL: url, secret: secret, tls: clientTLS)
    }

    /// `/readyz` of an agent's admin listener answers 200.
    func isReady(_ host: String, _ port: Int) async -> Bool {
        guard let clientTLS else { return await ControlClient.probe("http://\(host):\(port)/readyz") == 200 }
        guard let client = try? ControlClient.httpClient(tls: clientTLS) else { return false }
        return await ControlClient.probe("https://\(host):\(port)/readyz", httpClient: client) == 200
    }

    /// Sets up what `--tls` and `--sasl` ask for in a new local cluster's directory and topology.
    static func create(
        tls: Bool, sasl: Bool, layout: FleetLayout, cluster: String, hosts: [String], store: TopologyStore
    ) async throws -> LocalSecurity {
        var security = LocalSecurity()
        if tls {
            security.tls = try LocalCertificateAuthority.create(in: layout.tlsDirectory, hosts: hosts, commonName: "amq-\(cluster)")
        }
        security.kafkaProtocol = switch (tls, sasl) {
        case (false, false): .plaintext
        case (true, false): .ssl
        case (false, true): .saslPlaintext
        case (true, true): .saslSSL
        }
        if sasl {
            let password = LocalSecurity.randomPassword()
            try LocalCertificateAuthority.write(password + "\n", to: layout.adminPasswordFile, mode: 0o600)
            try await store.putUser(cluster, UserCredentials.derive(name: "admin", password: password))
            try await store.updateSettings(cluster, [(key: "super.users", value: "User:admin")])
            security.adminUser = "admin"
            security.adminPasswordFile = layout.adminPasswordFile
        }
        try security.save(layout)
        return security
    }

    static func randomPassword() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }
}
