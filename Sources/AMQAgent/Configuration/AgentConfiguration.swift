import AMQControlPlane
import AMQSecurity

/// Settings of one `amq agent run`.
package struct AgentConfiguration: Sendable {
    package var controllerURL: String
    package var secret: ClusterSecret
    package var zone: String
    /// The node id, or nil to be given one by ``nodeName``.
    package var nodeID: Int?
    package var nodeName: String?
    /// Address the listeners bind to.
    package var bindHost: String = "127.0.0.1"
    /// Address clients and peers are told to use; the bind host when nil.
    package var advertisedHost: String?
    /// Ports; 0 picks a free one. The bound ports are reported to the controller.
    package var kafkaPort: Int = 0
    package var adminPort: Int = 0
    /// The inter-agent RPC listener (zone routing's pointers and replica polls).
    package var rpcPort: Int = 0
    /// Kafka listeners (Kafka's `listeners`); empty: one PLAINTEXT listener on `kafkaPort`.
    /// The first is the primary one, reported as the node's Kafka port.
    package var listeners: [KafkaListenerSpec] = []
    /// This agent's TLS identity: SSL listeners, the admin listener (https), the RPC listener and
    /// the connections it makes to the controller and other agents. Required by SSL listeners.
    package var tls: TLSMaterial?
    /// How long to keep trying to reach the controller at start-up before giving up.
    package var registerTimeout: Duration = .seconds(60)
    /// Longest topology long-poll.
    package var topologyWait: Duration = .seconds(30)

    package init(controllerURL: String, secret: ClusterSecret, zone: String, nodeID: Int?, nodeName: String?) {
        self.controllerURL = controllerURL
        self.secret = secret
        self.zone = zone
        self.nodeID = nodeID
        self.nodeName = nodeName
    }

    var advertised: String { advertisedHost ?? bindHost }

    /// The listeners to bind, in order.
    var kafkaListeners: [KafkaListenerSpec] {
        listeners.isEmpty ? [KafkaListenerSpec(securityProtocol: .plaintext, host: nil, port: kafkaPort)] : listeners
    }
}

/// The agent's one error type.
package struct AgentError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var underlying: (any Error)?
    package var location: String

    package init(_ message: String, underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.message = message
        self.underlying = underlying
        self.location = "\(file):\(line)"
    }

    package var description: String { message }
}
