import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import AMQObjectStore

/// The signer against AWS's published answers: every intermediate step (canonical request, string
/// to sign) as well as the signature, so a mismatch says which step went wrong.
@Suite struct SigV4Tests {
    /// One published case: the request as sent and what AWS says signing it yields.
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method = "GET"
        var path = "/"
        var query: [(String, String)] = []
        var headers: [(String, String)]
        var body = ""
        var sessionToken: String?
        var canonicalRequest: String
        /// Nil where the source publishes only the canonical request and signature.
        var stringToSign: String?
        var signature: String
        var testDescription: String { name }
    }

    // MARK: aws-sig-v4-test-suite

    /// Credentials, region, service and time shared by every case of AWS's SigV4 test suite.
    static let suiteSigner = SigV4(
        credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service"
    )
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let host = ("Host", "example.amazonaws.com")
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func suiteStringToSign(_ hash: String) -> String {
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\(hash)"
    }

    static let suite: [Vector] = [
        Vector(
            name: "get-vanilla", headers: [host],
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ),
        Vector(
            name: "get-vanilla-query-order-key-case", query: [("Param2", "value2"), ("Param1", "value1")], headers: [host],
            canonicalRequest:
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        Vector(
            name: "get-vanilla-empty-query-key", query: [("Param1", "value1")], headers: [host],
            canonicalRequest: "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
            signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"
        ),
        Vector(
            name: "get-vanilla-query-unreserved",
            query: [
                (
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                )
            ],
            headers: [host],
            canonicalRequest:
                "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
                + "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
        ),
        Vector(
            // Sorted by encoded name: "%E1…" < "Param" < "Param-3" (a sort on "name=value" gets this wrong).
            name: "get-vanilla-query-order-encoded", query: [("Param-3", "Value3"), ("Param", "Value2"), ("\u{1234}", "Value1")],
            headers: [host],
            canonicalRequest:
                "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"
        ),
        Vector(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", headers: [host],
            canonicalRequest:
                "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"
        ),
        Vector(
            name: "get-utf8", path: "/\u{1234}", headers: [host],
            canonicalRequest: "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ),
        Vector(
            name: "get-header-value-trim", headers: [host, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            canonicalRequest:
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
                + "host;my-header1;my-header2;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        Vector(
            name: "get-header-key-duplicate", headers: [host, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            canonicalRequest:
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\n"
                + "host;my-header1;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
        ),
        Vector(
            name: "get-header-value-order",
            headers: [host, ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
            canonicalRequest:
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\nx-amz-date:20150830T123600Z\n\n"
                + "host;my-header1;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
            signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"
        ),
        Vector(
            name: "post-header-key-sort", method: "POST", headers: [host, ("My-Header1", "value1")],
            canonicalRequest:
                "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
            signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"
        ),
        Vector(
            name: "post-header-value-case", method: "POST", headers: [host, ("My-Header1", "VALUE1")],
            canonicalRequest:
                "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
            signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"
        ),
        Vector(
            name: "post-vanilla-query", method: "POST", query: [("Param1", "value1")], headers: [host],
            canonicalRequest: "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: suiteStringToSign("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"
        ),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded"), host],
            body: "Param1=value1",
            canonicalRequest:
                "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "content-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            stringToSign: suiteStringToSign("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        ),
        Vector(
            name: "get-vanilla-with-session-token", headers: [host],
            sessionToken: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            canonicalRequest:
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
                + "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n"
                + "host;x-amz-date;x-amz-security-token\n\(emptyHash)",
            stringToSign: suiteStringToSign("067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b"),
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        ),
        Vector(
            name: "post-sts-header-before", method: "POST", headers: [host], sessionToken: stsToken,
            canonicalRequest:
                "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:\(stsToken)\n\n"
                + "host;x-amz-date;x-amz-security-token\n\(emptyHash)",
            stringToSign: suiteStringToSign("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
            signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        ),
    ]

    static let stsToken =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

    @Test(arguments: suite) func awsTestSuite(_ vector: Vector) {
        var signer = Self.suiteSigner
        signer.credentials.sessionToken = vector.sessionToken
        let signed = sign(vector, with: signer, date: Self.suiteDate)
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        if let stringToSign = vector.stringToSign { #expect(signed.stringToSign == stringToSign) }
        #expect(signed.signature == vector.signature)
        let signedHeaders = vector.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false).dropLast().last ?? ""
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(signedHeaders), Signature=\(vector.signature)"
        )
        #expect(signed.headers.first(name: "x-amz-date") == "20150830T123600Z")
        #expect(signed.headers.first(name: "x-amz-security-token") == vector.sessionToken)
        // Not S3: no payload-hash header.
        #expect(!signed.headers.contains(name: "x-amz-content-sha256"))
    }

    // MARK: S3's "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk"

    static let s3Signer = SigV4(
        credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let s3Host = ("Host", "examplebucket.s3.amazonaws.com")

    static func s3StringToSign(_ hash: String) -> String {
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\(hash)"
    }

    static let s3Examples: [Vector] = [
        Vector(
            name: "GET Object", path: "/test.txt", headers: [s3Host, ("Range", "bytes=0-9")],
            canonicalRequest:
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:\(emptyHash)\n"
                + "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\(emptyHash)",
            stringToSign: s3StringToSign("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"),
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ),
        Vector(
            name: "PUT Object", method: "PUT", path: "/test$file.text",
            headers: [s3Host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            body: "Welcome to Amazon S3.",
            canonicalRequest:
                "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
                + "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\nx-amz-date:20130524T000000Z\n"
                + "x-amz-storage-class:REDUCED_REDUNDANCY\n\ndate;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
                + "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            stringToSign: s3StringToSign("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"),
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ),
        Vector(
            name: "GET Bucket Lifecycle", query: [("lifecycle", "")], headers: [s3Host],
            canonicalRequest:
                "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:\(emptyHash)\nx-amz-date:20130524T000000Z\n\n"
                + "host;x-amz-content-sha256;x-amz-date\n\(emptyHash)",
            stringToSign: s3StringToSign("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"),
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        ),
        Vector(
            name: "Get Bucket (List Objects)", query: [("prefix", "J"), ("max-keys", "2")], headers: [s3Host],
            canonicalRequest:
                "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:\(emptyHash)\nx-amz-date:20130524T000000Z\n\n"
                + "host;x-amz-content-sha256;x-amz-date\n\(emptyHash)",
            stringToSign: s3StringToSign("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"),
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ),
    ]

    @Test(arguments: s3Examples) func s3SingleChunkExamples(_ vector: Vector) {
        let signed = sign(vector, with: Self.s3Signer, date: Self.s3Date)
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(signed.signature == vector.signature)
        let payloadHash = String(vector.canonicalRequest.split(separator: "\n").last ?? "")
        #expect(signed.headers.first(name: "x-amz-content-sha256") == payloadHash)
        let credential = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        #expect(signed.headers.first(name: "Authorization")?.hasPrefix(credential) == true)
    }

    /// Key derivation and HMAC alone, from the published strings to sign: the canonicalisation
    /// cannot mask or cause a mismatch here.
    @Test func signingKeyAndSignatureFromPublishedStringsToSign() {
        for vector in Self.s3Examples {
            let stringToSign = vector.stringToSign ?? ""
            #expect(Self.s3Signer.signature(for: stringToSign, day: "20130524") == vector.signature, "\(vector.name)")
        }
        for vector in Self.suite where vector.stringToSign != nil {
            #expect(Self.suiteSigner.signature(for: vector.stringToSign ?? "", day: "20150830") == vector.signature, "\(vector.name)")
        }
    }

    // MARK: Beyond the vectors

    @Test func unsignedPayloadIsSentAndSigned() {
        let signed = Self.s3Signer.sign(
            method: "PUT", path: "/examplebucket/k", headers: ["Host": "s3.amazonaws.com"], payload: .unsigned, date: Self.s3Date
        )
        #expect(signed.headers.first(name: "x-amz-content-sha256") == "UNSIGNED-PAYLOAD")
        #expect(signed.canonicalRequest.hasSuffix("\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"))
        #expect(signed.canonicalRequest.contains("\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"))
    }

    @Test func precomputedPayloadHashIsUsedAsIs() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let fromBytes = Self.s3Signer.sign(method: "PUT", path: "/k", headers: ["Host": "h"], payload: .bytes(body), date: Self.s3Date)
        let fromHash = Self.s3Signer.sign(
            method: "PUT", path: "/k", headers: ["Host": "h"], payload: .sha256(SigV4.hexSHA256(body)), date: Self.s3Date
        )
        #expect(fromBytes == fromHash)
        #expect(SigV4.hexSHA256(body) == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(SigV4.hexSHA256([UInt8]()) == SigV4.emptyPayloadSHA256)
        // A buffer hashes its readable bytes only.
        var buffer = ByteBuffer(string: "skipped")
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        buffer.writeString("Welcome to Amazon S3.")
        #expect(SigV4.hexSHA256(buffer) == SigV4.hexSHA256(body))
    }

    @Test func pathsEncodeEachSegmentOnceWithoutNormalising() {
        #expect(SigV4.encodePath("") == "/")
        #expect(SigV4.encodePath("/bucket/a b+c/d%e") == "/bucket/a%20b%2Bc/d%25e")
        #expect(SigV4.encodePath("/b/x=y&z?q#f:g@h!i$j'k(l)m*n,o;p") == "/b/x%3Dy%26z%3Fq%23f%3Ag%40h%21i%24j%27k%28l%29m%2An%2Co%3Bp")
        // S3 signs the path as sent: no dot-segment removal, no slash merging.
        #expect(SigV4.encodePath("/b/./c/../d//e/") == "/b/./c/../d//e/")
        #expect(SigV4.canonicalQuery([("prefix", "a/b c"), ("continuation-token", "1+2=3")]) == "continuation-token=1%2B2%3D3&prefix=a%2Fb%20c")
        #expect(SigV4.canonicalQuery([("k", "b"), ("k", "a")]) == "k=a&k=b")
    }

    @Test func timestampsAreUTC() {
        #expect(SigV4.timestamps(Self.suiteDate) == ("20150830T123600Z", "20150830"))
        #expect(SigV4.timestamps(Date(timeIntervalSince1970: 951_868_799)) == ("20000229T235959Z", "20000229"))
        #expect(SigV4.timestamps(Date(timeIntervalSince1970: 0)) == ("19700101T000000Z", "19700101"))
    }

    @Test func theSecretNeverAppearsInTheOutput() {
        var signer = Self.suiteSigner
        signer.credentials.sessionToken = "token"
        let signed = signer.sign(method: "GET", path: "/", headers: ["Host": "h"], payload: .bytes([]), date: Self.suiteDate)
        let everything = [signed.canonicalRequest, signed.stringToSign, signed.authorization] + signed.headers.map { "\($0.name): \($0.value)" }
        #expect(!everything.joined().contains("wJalrXUtnFEMI"))
        #expect(!"\(signer.credentials)".contains("wJalrXUtnFEMI"))
    }

    private func sign(_ vector: Vector, with signer: SigV4, date: Date) -> SigV4.Signature {
        var headers = HTTPHeaders()
        for (name, value) in vector.headers { headers.add(name: name, value: value) }
        return signer.sign(
            method: vector.method, path: vector.path, query: vector.query, headers: headers, payload: .bytes(Array(vector.body.utf8)),
            date: date
        )
    }
}
