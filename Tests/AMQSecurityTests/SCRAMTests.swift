import AMQSecurity
import Foundation
import Testing

@Suite struct SCRAMTests {
    /// RFC 7677 §3's SCRAM-SHA-256 exchange, byte for byte.
    @Test func rfc7677ExchangeVerifiesAndSignsAsTheRFCSays() throws {
        let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
        let credential = SCRAMCredential.derive(.sha256, password: "pencil", iterations: 4096, salt: salt)
        var server = SCRAMServer(mechanism: .sha256, serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        let serverFirst = try server.receiveClientFirst(Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8)) { $0 == "user" ? credential : nil }
        #expect(String(decoding: serverFirst, as: UTF8.self) == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        let (user, serverFinal) = try server.receiveClientFinal(Array(clientFinal.utf8))
        #expect(user == "user")
        #expect(String(decoding: serverFinal, as: UTF8.self) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test(arguments: SCRAMMechanism.allCases)
    func ourClientAndServerAgreeAndAWrongPasswordFails(_ mechanism: SCRAMMechanism) throws {
        let credential = SCRAMCredential.derive(mechanism, password: "correct horse")
        for (password, succeeds) in [("correct horse", true), ("wrong horse", false)] {
            var client = SCRAMClient(mechanism: mechanism, user: "al,i=ce", password: password)
            var server = SCRAMServer(mechanism: mechanism)
            let first = try server.receiveClientFirst(client.clientFirst()) { $0 == "al,i=ce" ? credential : nil }
            let final = try client.clientFinal(serverFirst: first)
            if succeeds {
                let (user, serverFinal) = try server.receiveClientFinal(final)
                #expect(user == "al,i=ce")
                try client.verify(serverFinal: serverFinal)
            } else {
                #expect(throws: SASLFailure.self) { try server.receiveClientFinal(final) }
            }
        }
    }

    @Test func anUnknownUserGetsASaltAndFailsOnlyAtTheProof() throws {
        var server = SCRAMServer(mechanism: .sha512)
        var client = SCRAMClient(mechanism: .sha512, user: "nobody", password: "whatever1")
        let first = try server.receiveClientFirst(client.clientFirst()) { _ in nil }
        #expect(String(decoding: first, as: UTF8.self).contains(",s="))
        #expect(throws: SASLFailure.self) { try server.receiveClientFinal(try client.clientFinal(serverFirst: first)) }
    }

    @Test func plainIsCheckedAgainstTheSCRAMCredential() throws {
        let user = UserCredentials.derive(name: "bob", password: "s3cret-pass", iterations: 4096)
        #expect(user.scram[.sha256]!.verifies("s3cret-pass", .sha256))
        #expect(!user.scram[.sha512]!.verifies("s3cret-pasS", .sha512))
        let parsed = try SASLPlain.parse(SASLPlain.message(user: "bob", password: "s3cret-pass"))
        #expect(parsed.user == "bob" && parsed.password == "s3cret-pass")
        #expect(throws: SASLFailure.self) { try SASLPlain.parse(Array("bob".utf8)) }
        #expect(throws: SASLFailure.self) { try SASLPlain.parse([0x61, 0] + Array("bob".utf8) + [0] + Array("pw".utf8)) }
    }
}

extension SCRAMTests {
    /// librdkafka repeats its client nonce in client-final (`r=` cnonce + the full nonce), as
    /// Kafka tolerates; the proof over that message must still verify.
    @Test func librdkafkasRepeatedClientNonceIsAccepted() throws {
        let mechanism = SCRAMMechanism.sha512
        let salt = Array("0123456789abcdef".utf8)
        let credential = SCRAMCredential.derive(mechanism, password: "pencil-pencil", iterations: 4096, salt: salt)
        var server = SCRAMServer(mechanism: mechanism, serverNonce: "SERVERNONCE")
        let clientFirstBare = "n=admin,r=CNONCE"
        let serverFirst = String(decoding: try server.receiveClientFirst(Array("n,,\(clientFirstBare)".utf8)) { _ in credential }, as: UTF8.self)
        let withoutProof = "c=biws,r=CNONCECNONCESERVERNONCE"
        let salted = mechanism.saltedPassword("pencil-pencil", salt: salt, iterations: 4096)
        let clientKey = mechanism.hmac(salted, Array("Client Key".utf8))
        let signature = mechanism.hmac(mechanism.hash(clientKey), Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8))
        let proof = Data(zip(clientKey, signature).map { $0 ^ $1 }).base64EncodedString()
        let (user, _) = try server.receiveClientFinal(Array("\(withoutProof),p=\(proof)".utf8))
        #expect(user == "admin")
        var other = SCRAMServer(mechanism: mechanism, serverNonce: "SERVERNONCE")
        _ = try other.receiveClientFirst(Array("n,,\(clientFirstBare)".utf8)) { _ in credential }
        #expect(throws: SASLFailure.self) { try other.receiveClientFinal(Array("c=biws,r=CNONCEOTHER,p=\(proof)".utf8)) }
    }
}
