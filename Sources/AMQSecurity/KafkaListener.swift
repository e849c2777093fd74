import Foundation

/// Kafka's `security.protocol` of a listener.
package enum SecurityProtocol: String, Sendable, Codable, CaseIterable, Hashable {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSSL = "SASL_SSL"

    package var usesTLS: Bool { self == .ssl || self == .saslSSL }
    package var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
}

/// One Kafka listener, written like Kafka's `listeners` entries: `SASL_SSL://0.0.0.0:9093`.
/// Its name is its protocol, so an agent has at most one listener per protocol.
package struct KafkaListenerSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    package var securityProtocol: SecurityProtocol
    /// nil: the agent's `--host`.
    package var host: String?
    package var port: Int

    package init(securityProtocol: SecurityProtocol, host: String?, port: Int) {
        self.securityProtocol = securityProtocol
        self.host = host
        self.port = port
    }

    package var name: String { securityProtocol.rawValue }

    package static func parse(_ text: String) throws(SecurityError) -> KafkaListenerSpec {
        let usage = "write a listener like SASL_SSL://0.0.0.0:9093 (protocols: \(SecurityProtocol.allCases.map(\.rawValue).joined(separator: ", ")); port 0 picks a free one)"
        guard let separator = text.range(of: "://") else { throw SecurityError("listener \"\(text)\" has no protocol; \(usage)") }
        guard let securityProtocol = SecurityProtocol(rawValue: text[..<separator.lowerBound].uppercased()) else {
            throw SecurityError("listener \"\(text)\" names an unknown protocol; \(usage)")
        }
        let address = text[separator.upperBound...]
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw SecurityError("listener \"\(text)\" has no port; \(usage)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return KafkaListenerSpec(securityProtocol: securityProtocol, host: host.isEmpty ? nil : host, port: port)
    }

    package var description: String { "\(name)://\(host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""):\(port)" }
}
