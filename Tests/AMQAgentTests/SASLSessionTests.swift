import AMQKafkaProtocol
import AMQSecurity
import Testing

@testable import AMQAgent

/// The SASL state machine of a connection, event by event, on an injected clock.
@Suite struct SASLSessionTests {
    static let alice = UserCredentials.derive(name: "alice", password: "alice-password", iterations: 4096)
    static func users(_ name: String) -> UserCredentials? { name == "alice" ? alice : nil }
    static let start = ContinuousClock.now

    @Test func beforeAuthenticationOnlyApiVersionsIsAdmitted() {
        let session = SASLSession()
        #expect(session.admit(.apiVersions, now: Self.start) == .allow(.anonymous))
        #expect(session.admit(.metadata, now: Self.start) == .closeUnauthenticated)
        #expect(session.admit(.produce, now: Self.start) == .closeUnauthenticated)
    }

    @Test func plainAuthenticatesWithTheRightPasswordOnly() {
        var session = SASLSession()
        #expect(session.handshake("PLAIN") == .none)
        let wrong = session.authenticate(SASLPlain.message(user: "alice", password: "nope-nope"), users: Self.users, now: Self.start, reauthAfter: nil, version: 1)
        #expect(wrong.errorCode == .saslAuthenticationFailed && wrong.close && !wrong.authenticated)
        #expect(session.admit(.metadata, now: Self.start) == .closeUnauthenticated)

        var fresh = SASLSession()
        _ = fresh.handshake("PLAIN")
        let right = fresh.authenticate(SASLPlain.message(user: "alice", password: "alice-password"), users: Self.users, now: Self.start, reauthAfter: nil, version: 1)
        #expect(right.errorCode == .none && right.authenticated && right.sessionLifetimeMs == 0)
        #expect(fresh.admit(.produce, now: Self.start) == .allow(KafkaPrincipal(name: "alice")))
    }

    @Test func anUnknownMechanismIsRefusedAndAuthenticateWithoutHandshakeIsIllegal() {
        var session = SASLSession()
        #expect(session.handshake("GSSAPI") == .unsupportedSaslMechanism)
        let outcome = session.authenticate([1, 2, 3], users: Self.users, now: Self.start, reauthAfter: nil, version: 1)
        #expect(outcome.errorCode == .illegalSaslState && outcome.close)
    }

    @Test(arguments: SCRAMMechanism.allCases)
    func scramTakesTwoStepsAndTheServerProvesItKnowsTheCredential(_ mechanism: SCRAMMechanism) throws {
        var session = SASLSession()
        #expect(session.handshake(mechanism.rawValue) == .none)
        var client = SCRAMClient(mechanism: mechanism, user: "alice", password: "alice-password")
        let first = session.authenticate(client.clientFirst(), users: Self.users, now: Self.start, reauthAfter: .seconds(60), version: 2)
        #expect(first.errorCode == .none && !first.authenticated)
        #expect(session.admit(.metadata, now: Self.start) == .closeUnauthenticated)
        let final = session.authenticate(try client.clientFinal(serverFirst: first.authBytes), users: Self.users, now: Self.start, reauthAfter: .seconds(60), version: 2)
        #expect(final.errorCode == .none && final.authenticated && final.sessionLifetimeMs == 60_000)
        try client.verify(serverFinal: final.authBytes)
    }

    /// KIP-368: the session ends at its lifetime unless the client authenticates again on the
    /// same connection, as the same principal.
    @Test func sessionsExpireAndReauthenticationExtendsThemForTheSamePrincipalOnly() {
        var session = SASLSession()
        _ = session.handshake("PLAIN")
        _ = session.authenticate(SASLPlain.message(user: "alice", password: "alice-password"), users: Self.users, now: Self.start, reauthAfter: .seconds(10), version: 1)
        #expect(session.admit(.fetch, now: Self.start + .seconds(9)) == .allow(KafkaPrincipal(name: "alice")))
        #expect(session.admit(.fetch, now: Self.start + .seconds(10)) == .closeExpired)
        #expect(session.admit(.apiVersions, now: Self.start + .seconds(10)) == .allow(KafkaPrincipal(name: "alice")))

        // Re-authenticating at 8 s: requests keep flowing meanwhile, and the new lifetime counts from then.
        #expect(session.handshake("PLAIN") == .none)
        #expect(session.admit(.fetch, now: Self.start + .seconds(8)) == .allow(KafkaPrincipal(name: "alice")))
        let again = session.authenticate(SASLPlain.message(user: "alice", password: "alice-password"), users: Self.users, now: Self.start + .seconds(8), reauthAfter: .seconds(10), version: 1)
        #expect(again.authenticated)
        #expect(session.admit(.fetch, now: Self.start + .seconds(17)) == .allow(KafkaPrincipal(name: "alice")))

        let bob = UserCredentials.derive(name: "bob", password: "bob-password", iterations: 4096)
        _ = session.handshake("PLAIN")
        let switched = session.authenticate(
            SASLPlain.message(user: "bob", password: "bob-password"), users: { $0 == "bob" ? bob : Self.users($0) }, now: Self.start + .seconds(9),
            reauthAfter: .seconds(10), version: 1
        )
        #expect(switched.errorCode == .saslAuthenticationFailed && switched.close)
    }

    /// SaslAuthenticate v0 has no session lifetime field: such clients are never told to re-authenticate.
    @Test func version0ClientsGetNoLifetime() {
        var session = SASLSession()
        _ = session.handshake("PLAIN")
        let outcome = session.authenticate(SASLPlain.message(user: "alice", password: "alice-password"), users: Self.users, now: Self.start, reauthAfter: .seconds(10), version: 0)
        #expect(outcome.sessionLifetimeMs == 0)
        #expect(session.admit(.fetch, now: Self.start + .seconds(3600)) == .allow(KafkaPrincipal(name: "alice")))
    }
}
