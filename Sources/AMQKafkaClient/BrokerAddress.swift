import Foundation

/// A `host:port` a client connects to.
package struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port` or `[v6]:port`.
    package init(parsing text: String) throws(KafkaClientError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let hostPart: Substring
        let portPart: Substring
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw Self.invalid(text) }
            portPart = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else { throw Self.invalid(text) }
            hostPart = trimmed[..<colon]
            portPart = trimmed[trimmed.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains(" "), let port = Int(portPart), (1...65535).contains(port) else {
            throw Self.invalid(text)
        }
        self.init(host: String(hostPart), port: port)
    }

    /// Parses a comma-separated bootstrap list (`a:9092,b:9092`).
    package static func parseList(_ text: String) throws(KafkaClientError) -> [BrokerAddress] {
        let parts = text.split(separator: ",").map { String($0) }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !parts.isEmpty else {
            throw KafkaClientError(.invalidArgument, "empty bootstrap address list; pass host:port[,host:port…], like 127.0.0.1:9092")
        }
        var result: [BrokerAddress] = []
        for part in parts { result.append(try BrokerAddress(parsing: part)) }
        return result
    }

    private static func invalid(_ text: String) -> KafkaClientError {
        KafkaClientError(
            .invalidArgument, "bootstrap address \"\(text)\" is not host:port with a port from 1 to 65535, like 127.0.0.1:9092"
        )
    }
}
