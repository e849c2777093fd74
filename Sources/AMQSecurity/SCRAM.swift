import Crypto
import Foundation

/// The SCRAM mechanisms Kafka speaks (RFC 5802, RFC 7677; Kafka's KIP-84).
package enum SCRAMMechanism: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable, Hashable {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    /// Kafka's minimum; its default for `kafka-configs --alter --add-config SCRAM-SHA-…` is 4096.
    package static let minIterations = 4096
    package static let defaultIterations = 4096
    /// Kafka's ceiling: more makes every PLAIN and SCRAM login slow enough to be a denial of service.
    package static let maxIterations = 16384

    package func hmac(_ key: some ContiguousBytes, _ message: some DataProtocol) -> [UInt8] {
        switch self {
        case .sha256: Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        case .sha512: Array(HMAC<SHA512>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        }
    }

    package func hash(_ data: some DataProtocol) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: data))
        case .sha512: Array(SHA512.hash(data: data))
        }
    }

    /// RFC 5802's Hi(): PBKDF2 with this mechanism's HMAC, one block.
    package func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: Array(password.utf8))
        func mac(_ message: [UInt8]) -> [UInt8] {
            switch self {
            case .sha256: Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            case .sha512: Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
            }
        }
        var block = mac(salt + [0, 0, 0, 1])
        var result = block
        for _ in 1..<max(iterations, 1) {
            block = mac(block)
            for index in result.indices { result[index] ^= block[index] }
        }
        return result
    }
}

/// What the cluster keeps of a user's password for one mechanism: never the password, only
/// RFC 5802's salted keys (as Kafka stores SCRAM credentials).
package struct SCRAMCredential: Sendable, Codable, Hashable {
    package var salt: [UInt8]
    package var iterations: Int
    package var storedKey: [UInt8]
    package var serverKey: [UInt8]

    package init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the credential for `password` with a fresh random salt.
    package static func derive(
        _ mechanism: SCRAMMechanism, password: String, iterations: Int = SCRAMMechanism.defaultIterations, salt: [UInt8]? = nil
    ) -> SCRAMCredential {
        let salt = salt ?? randomBytes(32)
        let salted = mechanism.saltedPassword(password, salt: salt, iterations: iterations)
        let clientKey = mechanism.hmac(salted, Array("Client Key".utf8))
        return SCRAMCredential(
            salt: salt, iterations: iterations, storedKey: mechanism.hash(clientKey), serverKey: mechanism.hmac(salted, Array("Server Key".utf8))
        )
    }

    /// True when `password` is the one this credential was derived from (SASL/PLAIN checks
    /// passwords this way, so no password is ever stored).
    package func verifies(_ password: String, _ mechanism: SCRAMMechanism) -> Bool {
        constantTimeEqual(Self.derive(mechanism, password: password, iterations: iterations, salt: salt).storedKey, storedKey)
    }
}

/// A user's credentials, one per mechanism.
package struct UserCredentials: Sendable, Codable, Hashable {
    package var name: String
    package var scram: [SCRAMMechanism: SCRAMCredential]

    package init(name: String, scram: [SCRAMMechanism: SCRAMCredential]) {
        self.name = name
        self.scram = scram
    }

    /// Credentials for every mechanism from one password.
    package static func derive(name: String, password: String, iterations: Int = SCRAMMechanism.defaultIterations) -> UserCredentials {
        var scram: [SCRAMMechanism: SCRAMCredential] = [:]
        for mechanism in SCRAMMechanism.allCases { scram[mechanism] = .derive(mechanism, password: password, iterations: iterations) }
        return UserCredentials(name: name, scram: scram)
    }
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}

/// The server side of one SCRAM exchange, as a state machine over the client's two messages
/// (RFC 5802 §5): client-first → server-first, client-final → server-final. Pure: the nonce is
/// injected and credentials are looked up by the caller.
package struct SCRAMServer: Sendable {
    package enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(user: String, credential: SCRAMCredential?, clientFirstBare: String, serverFirst: String, nonce: String)
        case done
    }

    package let mechanism: SCRAMMechanism
    package private(set) var state: State = .awaitingClientFirst
    let serverNonce: String

    package init(mechanism: SCRAMMechanism, serverNonce: String = Data(randomBytes(24)).base64EncodedString()) {
        self.mechanism = mechanism
        self.serverNonce = serverNonce
    }

    /// The user the client named, once its first message has been read.
    package var user: String? {
        if case .awaitingClientFinal(let user, _, _, _, _) = state { return user }
        return nil
    }

    /// Reads client-first (`n,,n=user,r=nonce`) and answers server-first. An unknown user gets a
    /// made-up salt and fails at the proof, as RFC 5802 §9 advises, so names cannot be probed.
    package mutating func receiveClientFirst(_ message: [UInt8], credential lookup: (String) -> SCRAMCredential?) throws(SASLFailure) -> [UInt8] {
        guard case .awaitingClientFirst = state else { throw SASLFailure("unexpected SCRAM client-first message") }
        guard let text = String(bytes: message, encoding: .utf8) else { throw SASLFailure("SCRAM message is not UTF-8") }
        // gs2-header: no channel binding ("n") and no authzid, or an authzid equal to the user.
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "n" || parts[0] == "y" else { throw SASLFailure("SCRAM client-first message is malformed") }
        let bare = String(parts[2])
        let attributes = Self.attributes(bare)
        guard let encodedUser = attributes["n"], let clientNonce = attributes["r"], !clientNonce.isEmpty else {
            throw SASLFailure("SCRAM client-first message lacks a user or a nonce")
        }
        guard attributes["m"] == nil else { throw SASLFailure("SCRAM extensions are not supported") }
        let user = encodedUser.replacingOccurrences(of: "=2C", with: ",").replacingOccurrences(of: "=3D", with: "=")
        if parts[1].hasPrefix("a="), String(parts[1].dropFirst(2)) != user {
            throw SASLFailure("SCRAM authorization id differs from the user")
        }
        let credential = lookup(user)
        let salt = credential?.salt ?? mechanism.hash(Array("amq-unknown-user|\(user)|\(serverNonce)".utf8))
        let iterations = credential?.iterations ?? SCRAMMechanism.defaultIterations
        let nonce = clientNonce + serverNonce
        let serverFirst = "r=\(nonce),s=\(Data(salt).base64EncodedString()),i=\(iterations)"
        state = .awaitingClientFinal(user: user, credential: credential, clientFirstBare: bare, serverFirst: serverFirst, nonce: nonce)
        return Array(serverFirst.utf8)
    }

    /// Reads client-final (`c=biws,r=nonce,p=proof`), checks the proof, answers server-final
    /// (`v=signature`). Throws for a wrong password or an unknown user alike.
    package mutating func receiveClientFinal(_ message: [UInt8]) throws(SASLFailure) -> (user: String, serverFinal: [UInt8]) {
        guard case .awaitingClientFinal(let user, let credential, let clientFirstBare, let serverFirst, let nonce) = state else {
            throw SASLFailure("unexpected SCRAM client-final message")
        }
        state = .done
        guard let text = String(bytes: message, encoding: .utf8) else { throw SASLFailure("SCRAM message is not UTF-8") }
        guard let proofRange = text.range(of: ",p=") else { throw SASLFailure("SCRAM client-final message lacks a proof") }
        let withoutProof = String(text[..<proofRange.lowerBound])
        let attributes = Self.attributes(text)
        // librdkafka sends its client nonce again before the full one ("c=biws,r=" cnonce + the
        // server-first nonce); Kafka's ScramSaslServer accepts any nonce that ends with the one
        // it sent, and so do we: the proof covers the message as sent either way.
        guard let received = attributes["r"], received.hasSuffix(nonce) else { throw SASLFailure("SCRAM nonce mismatch") }
        guard let channelBinding = attributes["c"], channelBinding == "biws" || channelBinding == "eSws" else {
            throw SASLFailure("SCRAM channel binding is not supported")
        }
        guard let proofText = attributes["p"], let proof = Data(base64Encoded: proofText).map(Array.init) else {
            throw SASLFailure("SCRAM proof is not base64")
        }
        guard let credential else { throw SASLFailure("Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism.rawValue)") }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = mechanism.hmac(credential.storedKey, authMessage)
        guard proof.count == clientSignature.count else { throw SASLFailure("Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism.rawValue)") }
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard constantTimeEqual(mechanism.hash(clientKey), credential.storedKey) else {
            throw SASLFailure("Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism.rawValue)")
        }
        let serverSignature = mechanism.hmac(credential.serverKey, authMessage)
        return (user, Array("v=\(Data(serverSignature).base64EncodedString())".utf8))
    }

    static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in text.split(separator: ",") {
            guard part.count >= 2, part[part.index(after: part.startIndex)] == "=" else { continue }
            result[String(part.prefix(1))] = String(part.dropFirst(2))
        }
        return result
    }
}

/// The client side of SCRAM, for amq's own Kafka client.
package struct SCRAMClient: Sendable {
    package let mechanism: SCRAMMechanism
    let user: String
    let password: String
    let clientNonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8] = []

    package init(mechanism: SCRAMMechanism, user: String, password: String, clientNonce: String = Data(randomBytes(24)).base64EncodedString()) {
        self.mechanism = mechanism
        self.user = user
        self.password = password
        self.clientNonce = clientNonce
    }

    package mutating func clientFirst() -> [UInt8] {
        let escaped = user.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
        clientFirstBare = "n=\(escaped),r=\(clientNonce)"
        return Array("n,,\(clientFirstBare)".utf8)
    }

    package mutating func clientFinal(serverFirst message: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard let serverFirst = String(bytes: message, encoding: .utf8) else { throw SASLFailure("server-first is not UTF-8") }
        let attributes = SCRAMServer.attributes(serverFirst)
        guard let nonce = attributes["r"], nonce.hasPrefix(clientNonce), let saltText = attributes["s"],
            let salt = Data(base64Encoded: saltText).map(Array.init), let iterations = attributes["i"].flatMap(Int.init), iterations > 0
        else { throw SASLFailure("server-first message is malformed") }
        let withoutProof = "c=biws,r=\(nonce)"
        let salted = mechanism.saltedPassword(password, salt: salt, iterations: iterations)
        let clientKey = mechanism.hmac(salted, Array("Client Key".utf8))
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = mechanism.hmac(mechanism.hash(clientKey), authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        expectedServerSignature = mechanism.hmac(mechanism.hmac(salted, Array("Server Key".utf8)), authMessage)
        return Array("\(withoutProof),p=\(Data(proof).base64EncodedString())".utf8)
    }

    /// Checks the server's signature: the server knew the credential too.
    package func verify(serverFinal message: [UInt8]) throws(SASLFailure) {
        guard let text = String(bytes: message, encoding: .utf8), let signature = SCRAMServer.attributes(text)["v"],
            let bytes = Data(base64Encoded: signature).map(Array.init), constantTimeEqual(bytes, expectedServerSignature)
        else { throw SASLFailure("the server's SCRAM signature does not verify") }
    }
}

/// A SASL exchange failed; the message is what the client is told (never a password).
package struct SASLFailure: Error, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// SASL/PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`.
package enum SASLPlain {
    package static func parse(_ message: [UInt8]) throws(SASLFailure) -> (user: String, password: String) {
        let parts = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let authzid = String(bytes: parts[0], encoding: .utf8), let user = String(bytes: parts[1], encoding: .utf8),
            let password = String(bytes: parts[2], encoding: .utf8), !user.isEmpty
        else { throw SASLFailure("SASL/PLAIN message is malformed") }
        guard authzid.isEmpty || authzid == user else { throw SASLFailure("SASL/PLAIN authorization id differs from the user") }
        return (user, password)
    }

    package static func message(user: String, password: String) -> [UInt8] {
        [0] + Array(user.utf8) + [0] + Array(password.utf8)
    }
}
