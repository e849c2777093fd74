/// A topic's configuration: the settings amq acts on, typed, plus free-form Kafka topic configs
/// kept verbatim so Kafka admin clients can read back what they set.
package struct TopicConfig: Codable, Sendable, Equatable {
    /// Inter-zone routing: clients see a partition's representative in their own zone.
    package var routeEnabled: Bool = false
    /// Kafka's `retention.ms`; -1 keeps data forever.
    package var retentionMs: Int64 = 604_800_000
    /// Kafka's `retention.bytes` per partition; -1 means no size limit.
    package var retentionBytes: Int64 = -1
    /// Upper bound on how long produced data waits before its WAL object is sealed.
    package var lingerMs: Int = 250
    /// Other Kafka topic configs, by name.
    package var extra: [String: String] = [:]

    package init() {}

    package static let routeEnabledKey = "route.enabled"
    package static let typedKeys = [routeEnabledKey, "retention.ms", "retention.bytes", "linger.ms"]
    /// The WAL buffer seals at 250 ms at the latest; a topic may only ask for less.
    package static let lingerRange = 0...250

    /// The keys set to something other than their default (what DescribeConfigs shows as a
    /// dynamic topic config).
    package var overriddenKeys: [String] {
        let defaults = TopicConfig()
        let typed = zip(allEntries.prefix(Self.typedKeys.count), defaults.allEntries.prefix(Self.typedKeys.count))
            .filter { $0.value != $1.value }.map(\.0.key)
        return typed + extra.keys.sorted()
    }

    /// All configs as Kafka names and string values, typed ones included.
    package var allEntries: [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = [
            (Self.routeEnabledKey, String(routeEnabled)),
            ("retention.ms", String(retentionMs)),
            ("retention.bytes", String(retentionBytes)),
            ("linger.ms", String(lingerMs)),
        ]
        entries += extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return entries
    }

    /// Sets one config, validating typed keys and the shape of free-form ones.
    package mutating func set(_ key: String, _ value: String) throws(ControlPlaneError) {
        switch key {
        case Self.routeEnabledKey:
            routeEnabled = try Self.boolean(key, value)
        case "retention.ms":
            retentionMs = Int64(try Self.integer(key, value, in: -1...Int.max))
        case "retention.bytes":
            retentionBytes = Int64(try Self.integer(key, value, in: -1...Int.max))
        case "linger.ms":
            lingerMs = try Self.integer(key, value, in: Self.lingerRange)
        case "partitions":
            throw ControlPlaneError(
                .invalidArgument,
                "\"partitions\" is not a config; use --partitions N"
            )
        case "cleanup.policy":
            // Accepting compact and then deleting by retention would silently lose the latest
            // value per key that Connect, Schema Registry and Streams keep in such topics.
            guard value == "delete" else {
                throw ControlPlaneError(
                    .invalidConfig,
                    value.contains("compact")
                        ? "cleanup.policy=\(value) is not supported: amq does not compact topics by key, and would delete their records after retention.ms; only cleanup.policy=delete is accepted"
                        : "cleanup.policy must be delete (amq does not compact topics); got \"\(value)\""
                )
            }
            extra[key] = value
        default:
            try Self.validateFreeFormKey(key)
            extra[key] = value
        }
    }

    /// Resets one config to its default (Kafka's DeleteConfig / `--delete-config`).
    package mutating func reset(_ key: String) throws(ControlPlaneError) {
        let defaults = TopicConfig()
        switch key {
        case Self.routeEnabledKey: routeEnabled = defaults.routeEnabled
        case "retention.ms": retentionMs = defaults.retentionMs
        case "retention.bytes": retentionBytes = defaults.retentionBytes
        case "linger.ms": lingerMs = defaults.lingerMs
        default:
            guard extra.removeValue(forKey: key) != nil else {
                throw ControlPlaneError(.invalidArgument, "config \"\(key)\" is not set on this topic")
            }
        }
    }

    /// Parses `key=value` as given on the command line; `kind` and `example` make the error
    /// speak of what the command takes (a topic config by default).
    package static func parseAssignment(
        _ text: String, kind: String = "config", example: String = "--config retention.ms=86400000"
    ) throws(ControlPlaneError) -> (key: String, value: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ControlPlaneError(.invalidArgument, "\(kind) \"\(text)\" is not key=value; write it like \(example)")
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    private static func validateFreeFormKey(_ key: String) throws(ControlPlaneError) {
        let allowed = key.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
        guard !key.isEmpty, key.count <= 249, allowed else {
            throw ControlPlaneError(
                .invalidArgument,
                "config name \"\(key)\" is not a Kafka config name (lower-case letters, digits, '.', '_', '-')"
            )
        }
    }

    static func integer(_ key: String, _ value: String, in range: ClosedRange<Int>) throws(ControlPlaneError) -> Int {
        guard let number = Int(value), range.contains(number) else {
            let upper = range.upperBound == Int.max ? "" : " and \(range.upperBound)"
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound)\(upper)"
            throw ControlPlaneError(.invalidArgument, "\(key) must be an integer \(bounds), not \"\(value)\"")
        }
        return number
    }

    static func boolean(_ key: String, _ value: String) throws(ControlPlaneError) -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ControlPlaneError(.invalidArgument, "\(key) must be true or false, not \"\(value)\"")
        }
    }
}
