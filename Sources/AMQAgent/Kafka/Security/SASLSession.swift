import AMQKafkaProtocol
import AMQSecurity
import Synchronization

/// The SASL side of one Kafka connection, as a pure state machine (KIP-43 handshake and
/// authenticate, KIP-152 SaslAuthenticate framing, KIP-368 re-authentication): which requests
/// a connection may send, and what each SaslHandshake and SaslAuthenticate is answered. The clock
/// is injected; credentials are looked up by the caller's closure.
struct SASLSession: Sendable {
    /// Mechanisms offered, in Kafka's order.
    static let mechanisms = ["PLAIN", SCRAMMechanism.sha256.rawValue, SCRAMMechanism.sha512.rawValue]

    enum Exchange: Sendable {
        case none
        /// A handshake chose this mechanism; SaslAuthenticate comes next.
        case plain
        case scram(SCRAMServer)
    }

    /// Who authenticated, and until when (nil: no re-authentication asked).
    struct Authenticated: Sendable, Equatable {
        var principal: KafkaPrincipal
        var expiresAt: ContinuousClock.Instant?
    }

    private(set) var authenticated: Authenticated?
    private(set) var exchange: Exchange = .none

    /// What to do with a request other than SaslHandshake/SaslAuthenticate.
    enum Admission: Equatable {
        case allow(KafkaPrincipal)
        /// Before authentication: Kafka closes the connection ("Unexpected Kafka request of type
        /// … during SASL handshake").
        case closeUnauthenticated
        /// KIP-368: the session expired without re-authentication.
        case closeExpired
    }

    func admit(_ apiKey: ApiKey, now: ContinuousClock.Instant) -> Admission {
        guard let authenticated else {
            return apiKey == .apiVersions ? .allow(.anonymous) : .closeUnauthenticated
        }
        if let expiry = authenticated.expiresAt, now >= expiry, apiKey != .apiVersions { return .closeExpired }
        return .allow(authenticated.principal)
    }

    /// Answers a SaslHandshake: the mechanism is chosen or refused (UNSUPPORTED_SASL_MECHANISM,
    /// listing ours). A second handshake mid-exchange is ILLEGAL_SASL_STATE.
    mutating func handshake(_ mechanism: String) -> KafkaErrorCode {
        guard case .none = exchange else { return .illegalSaslState }
        switch mechanism {
        case "PLAIN": exchange = .plain
        case SCRAMMechanism.sha256.rawValue: exchange = .scram(SCRAMServer(mechanism: .sha256))
        case SCRAMMechanism.sha512.rawValue: exchange = .scram(SCRAMServer(mechanism: .sha512))
        default: return .unsupportedSaslMechanism
        }
        return .none
    }

    struct AuthenticateOutcome: Equatable {
        var errorCode: KafkaErrorCode = .none
        var errorMessage: String?
        var authBytes: [UInt8] = []
        /// KIP-368's session lifetime; 0 for none.
        var sessionLifetimeMs: Int64 = 0
        /// Kafka closes the connection after a failed authentication.
        var close = false
        /// This step completed an authentication (or a re-authentication).
        var authenticated = false
    }

    /// Answers a SaslAuthenticate. `reauthAfter`: `connections.max.reauth.ms` (nil: off).
    mutating func authenticate(
        _ bytes: [UInt8], users: (String) -> UserCredentials?, now: ContinuousClock.Instant, reauthAfter: Duration?, version: Int16
    ) -> AuthenticateOutcome {
        func fail(_ message: String) -> AuthenticateOutcome {
            exchange = .none
            return AuthenticateOutcome(errorCode: .saslAuthenticationFailed, errorMessage: message, close: true)
        }
        func succeed(_ user: String, _ reply: [UInt8]) -> AuthenticateOutcome {
            exchange = .none
            let principal = KafkaPrincipal(name: user)
            if let previous = authenticated?.principal, previous != principal {
                return fail("Cannot change principals during re-authentication from \(previous): \(principal)")
            }
            // Lifetimes only for clients that can hear them (v1+), as Kafka does.
            let lifetime = version >= 1 ? reauthAfter : nil
            authenticated = Authenticated(principal: principal, expiresAt: lifetime.map { now + $0 })
            let ms = lifetime.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 } ?? 0
            return AuthenticateOutcome(authBytes: reply, sessionLifetimeMs: ms, authenticated: true)
        }
        switch exchange {
        case .none:
            return AuthenticateOutcome(errorCode: .illegalSaslState, errorMessage: "SaslAuthenticate before a SaslHandshake", close: true)
        case .plain:
            let credentials: (user: String, password: String)
            do {
                credentials = try SASLPlain.parse(bytes)
            } catch {
                return fail(error.message)
            }
            // PLAIN is checked against the SCRAM credential: no password is stored anywhere.
            guard let user = users(credentials.user), let (mechanism, credential) = user.scram.min(by: { $0.key.rawValue < $1.key.rawValue }),
                credential.verifies(credentials.password, mechanism)
            else { return fail("Authentication failed: Invalid username or password") }
            return succeed(credentials.user, [])
        case .scram(var server):
            if server.user == nil {
                do {
                    let mechanism = server.mechanism
                    let reply = try server.receiveClientFirst(bytes) { name in
                        users(name)?.scram[mechanism]
                    }
                    exchange = .scram(server)
                    return AuthenticateOutcome(authBytes: reply)
                } catch {
                    return fail(error.message)
                }
            }
            do {
                let (user, reply) = try server.receiveClientFinal(bytes)
                return succeed(user, reply)
            } catch {
                return fail(error.message)
            }
        }
    }
}

/// A connection's security: the listener's protocol and, on SASL listeners, the session. Read and
/// changed only by the connection's reading loop (requests are started in order), behind a lock
/// so the type is Sendable.
final class ConnectionSecurity: Sendable {
    let listener: SecurityProtocol
    private let session = Mutex(SASLSession())

    init(listener: SecurityProtocol) {
        self.listener = listener
    }

    func withSession<T>(_ body: (inout SASLSession) -> T) -> T {
        session.withLock { body(&$0) }
    }

    /// Who sends requests on this connection: the SASL principal, else ANONYMOUS.
    var principal: KafkaPrincipal {
        guard listener.usesSASL else { return .anonymous }
        return session.withLock { $0.authenticated?.principal } ?? .anonymous
    }
}
