import AMQControlPlane
import Testing

@Suite struct CIDRBlockTests {
    @Test(arguments: [
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.168.1.7/32", "192.168.1.7/32"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
        ("fd00::/8", "fd00::/8"),
        ("FD00:0:0::/16", "fd00::/16"),
        ("::/0", "::/0"),
        ("2001:db8:0:0:1:0:0:0/80", "2001:db8:0:0:1::/80"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:10.1.0.0/112", "::ffff:a01:0/112"),
        ("1:0:0:1:0:0:0:0/128", "1:0:0:1::/128"),
    ])
    func parsesToCanonicalForm(_ text: String, _ canonical: String) throws {
        #expect(try CIDRBlock(text).description == canonical)
        #expect(try CIDRBlock(canonical).description == canonical, "the canonical form parses to itself")
    }

    @Test(arguments: [
        ("10.1.0.0", "no /prefix length"),
        ("10.1.0.0/16/2", "more than one '/'"),
        ("10.1.0/16", "\"10.1.0\" is not an IPv4 or IPv6 address"),
        ("10.1.0.256/32", "is not an IPv4 or IPv6 address"),
        ("010.1.0.0/16", "is not an IPv4 or IPv6 address"),
        ("10.1.0.0/33", "must be a number from 0 to 32"),
        ("10.1.0.0/-1", "must be a number from 0 to 32"),
        ("10.1.0.0/", "must be a number from 0 to 32"),
        ("10.1.0.0/+8", "must be a number from 0 to 32"),
        ("fd00::/129", "must be a number from 0 to 128"),
        ("fd00:::/8", "is not an IPv4 or IPv6 address"),
        ("1::2::/64", "is not an IPv4 or IPv6 address"),
        ("1:2:3:4:5:6:7:8:9/64", "is not an IPv4 or IPv6 address"),
        ("12345::/16", "is not an IPv4 or IPv6 address"),
        ("orders/8", "is not an IPv4 or IPv6 address"),
        ("", "no /prefix length"),
        ("10.1.2.3/16", "host bits are set; the network is 10.1.0.0/16"),
        ("10.1.0.1/31", "host bits are set; the network is 10.1.0.0/31"),
        ("fd00::1/8", "host bits are set; the network is fd00::/8"),
        ("fd12:3456::/8", "host bits are set; the network is fd00::/8"),
    ])
    func refusesWithAClearMessage(_ text: String, _ reason: String) {
        do {
            _ = try CIDRBlock(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.contains("e.g. 10.1.0.0/16 or fd00::/8"), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("10.1.0.0/16", "10.1.2.3", true),
        ("10.1.0.0/16", "10.1.255.255", true),
        ("10.1.0.0/16", "10.2.0.1", false),
        ("10.1.0.0/16", "::ffff:10.1.2.3", true),
        ("10.1.0.0/16", "::FFFF:10.1.2.3", true),
        ("10.1.0.0/16", "::ffff:a01:203", true),
        ("10.1.0.0/16", "::ffff:10.2.2.3", false),
        ("10.1.0.0/16", "::10.1.2.3", false),
        ("10.1.0.0/16", "fd00::1", false),
        ("10.1.0.0/16", "not an address", false),
        ("10.1.0.0/16", "", false),
        ("10.1.0.0/16", "10.1.2.3:9092", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "fd00::1", false),
        ("192.168.1.7/32", "192.168.1.7", true),
        ("192.168.1.7/32", "192.168.1.8", false),
        ("fd00::/8", "fd00::1", true),
        ("fd00::/8", "fdff:ffff::1", true),
        ("fd00::/8", "fe00::1", false),
        ("fd00::/8", "[fd00::1]", true),
        ("fe80::/10", "fe80::1%eth0", true),
        ("fd00::/8", "10.1.2.3", false),
        ("::/0", "2001:db8::1", true),
        ("::/0", "10.1.2.3", true),
        ("::ffff:0:0/96", "10.1.2.3", true),
        ("2001:db8::/32", "2001:db8:ffff::", true),
        ("2001:db8::/32", "2001:db9::", false),
    ])
    func containsPeerAddresses(_ block: String, _ address: String, _ expected: Bool) throws {
        #expect(try CIDRBlock(block).contains(address) == expected)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.1.0.0/16", true),
        ("10.1.0.0/16", "10.0.0.0/8", true),
        ("10.1.0.0/16", "10.1.0.0/16", true),
        ("10.1.0.0/16", "10.2.0.0/16", false),
        ("10.1.0.0/24", "10.1.1.0/24", false),
        ("0.0.0.0/0", "192.168.0.0/16", true),
        ("fd00::/8", "fd00:1::/32", true),
        ("fd00::/16", "fd01::/16", false),
        ("10.0.0.0/8", "fd00::/8", false),
        ("10.0.0.0/8", "::ffff:10.1.0.0/112", true),
        ("::/0", "10.0.0.0/8", true),
    ])
    func overlapsIsSymmetric(_ first: String, _ second: String, _ expected: Bool) throws {
        let a = try CIDRBlock(first)
        let b = try CIDRBlock(second)
        #expect(a.overlaps(b) == expected)
        #expect(b.overlaps(a) == expected)
    }

    @Test func listsParseAndEmptyIsNone() throws {
        #expect(try CIDRBlock.list("").isEmpty)
        #expect(try CIDRBlock.list("  ").isEmpty)
        #expect(try CIDRBlock.list("10.1.0.0/16, fd00::/8").map(\.description) == ["10.1.0.0/16", "fd00::/8"])
        #expect(throws: ControlPlaneError.self) { try CIDRBlock.list("10.1.0.0/16,,10.2.0.0/16") }
        #expect(throws: ControlPlaneError.self) { try CIDRBlock.list("10.1.0.0/16,") }
    }
}

@Suite struct ZoneCIDRMapTests {
    static let map = ZoneCIDRMap([
        ZoneInfo(name: "a", cidrs: ["10.1.0.0/16", "fd00:a::/32"]),
        ZoneInfo(name: "b", cidrs: ["10.0.0.0/8"]),
        ZoneInfo(name: "c", cidrs: ["10.1.5.0/24", "192.168.0.0/16"]),
        ZoneInfo(name: "d", cidrs: []),
    ])

    @Test(arguments: [
        ("10.1.2.3", "a"),
        ("::ffff:10.1.2.3", "a"),
        ("10.1.5.9", "c"),
        ("::ffff:10.1.5.9", "c"),
        ("10.9.9.9", "b"),
        ("192.168.3.4", "c"),
        ("fd00:a::17", "a"),
        ("[fd00:a::17]", "a"),
        ("fd00:b::17", nil),
        ("172.16.0.1", nil),
        ("garbage", nil),
    ] as [(String, String?)])
    func longestPrefixWins(_ address: String, _ zone: String?) {
        #expect(Self.map.zone(of: address) == zone)
    }

    @Test func emptyAndUnparsableBlocks() {
        let empty = ZoneCIDRMap([ZoneInfo(name: "a", cidrs: [])])
        #expect(empty.isEmpty)
        #expect(empty.zone(of: "10.1.2.3") == nil)
        // A stored block edited into nonsense is skipped, the zone's other blocks still count.
        let map = ZoneCIDRMap([ZoneInfo(name: "a", cidrs: ["bogus", "10.1.0.0/16"])])
        #expect(map.zone(of: "10.1.0.1") == "a")
    }

    @Test func rulesRefuseOverlapsAndUnknownZones() throws {
        let existing = ["a": [try CIDRBlock("10.1.0.0/16")], "b": [try CIDRBlock("10.2.0.0/16")], "c": []]
        let zones = ["a", "b", "c"]
        func message(_ proposed: [String: [String]]) -> String? {
            do {
                let parsed = try proposed.mapValues { try $0.map { try CIDRBlock($0) } }
                try ZoneCIDRRules.validate(parsed, existing: existing, zones: zones)
                return nil
            } catch let error as ControlPlaneError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["c": ["10.3.0.0/16"]]) == nil)
        #expect(message(["a": ["10.1.0.0/16", "10.4.0.0/16"]]) == nil, "a zone may keep its own blocks")
        #expect(message(["a": ["10.2.0.0/16"], "b": ["10.1.0.0/16"]]) == nil, "zones set together swap blocks")
        #expect(message(["a": []]) == nil)
        #expect(message(["z": ["10.9.0.0/16"]]) == "zone \"z\" is not a zone of the cluster (zones: a, b, c)")
        #expect(
            message(["c": ["10.2.3.0/24"]])
                == "CIDR block 10.2.3.0/24 of zone \"c\" overlaps 10.2.0.0/16 of zone \"b\"; a client address must belong to one zone"
        )
        #expect(message(["c": ["10.3.0.0/16", "10.3.0.0/16"]])?.contains("listed twice for zone \"c\"") == true)
        #expect(
            message(["c": ["10.3.0.0/16", "10.3.1.0/24"]])
                == "CIDR blocks 10.3.0.0/16 and 10.3.1.0/24 of zone \"c\" overlap; list only the wider one"
        )
    }
}
