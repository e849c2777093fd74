// swift-tools-version:6.1
import PackageDescription

/// Upcoming features every target opts into; and, when the test command builds
/// (`AMQ_STRICT_BUILD=1`, set by scripts/test.sh), warnings are errors in our targets only.
let strictSwiftSettings: [SwiftSetting] =
    [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ] + (Context.environment["AMQ_STRICT_BUILD"] == "1" ? [.unsafeFlags(["-warnings-as-errors"])] : [])

let package = Package(
    name: "amq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "amq", targets: ["amq"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .target(name: "CAMQCRC32C"),
        .target(
            name: "AMQKafkaProtocol",
            dependencies: [
                "CAMQCRC32C",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQKafkaCodegen",
            swiftSettings: strictSwiftSettings
        ),
        .executableTarget(
            name: "amq-codegen",
            dependencies: ["AMQKafkaCodegen"],
            path: "Sources/amq-codegen",
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQStreamIndex",
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQSecurity",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQStorage",
            dependencies: [
                "AMQKafkaProtocol", "AMQObjectStore", "AMQStreamIndex",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQObjectStore",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQTraffic",
            dependencies: [
                "AMQObjectStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQControlPlane",
            dependencies: [
                "AMQStreamIndex", "AMQStorage", "AMQObjectStore", "AMQTraffic", "AMQSecurity",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQAgent",
            dependencies: [
                "AMQControlPlane", "AMQObjectStore", "AMQStorage", "AMQStreamIndex", "AMQKafkaProtocol", "AMQTraffic", "AMQSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQKafkaClient",
            dependencies: [
                "AMQKafkaProtocol", "AMQSecurity",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQCommands",
            dependencies: [
                "AMQControlPlane", "AMQObjectStore", "AMQStorage", "AMQStreamIndex", "AMQKafkaProtocol", "AMQKafkaClient",
                "AMQAgent", "AMQTraffic", "AMQSecurity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .executableTarget(
            name: "amq",
            dependencies: [
                "AMQCommands",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .target(
            name: "AMQTestSupport",
            dependencies: [
                "AMQObjectStore", "AMQControlPlane", "AMQAgent", "AMQStorage", "AMQStreamIndex",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/AMQTestSupport",
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQKafkaProtocolTests",
            dependencies: [
                "AMQKafkaProtocol", "AMQKafkaCodegen",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQSecurityTests",
            dependencies: [
                "AMQSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQStorageTests",
            dependencies: [
                "AMQStorage", "AMQStreamIndex", "AMQObjectStore", "AMQControlPlane", "AMQKafkaProtocol", "AMQTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQObjectStoreTests",
            dependencies: [
                "AMQObjectStore", "AMQTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQTrafficTests",
            dependencies: [
                "AMQTraffic", "AMQObjectStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQControlPlaneTests",
            dependencies: [
                "AMQControlPlane", "AMQSecurity", "AMQStreamIndex", "AMQTestSupport", "AMQTraffic",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQKafkaClientTests",
            dependencies: [
                "AMQKafkaClient", "AMQKafkaProtocol", "AMQTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQAgentTests",
            dependencies: [
                "AMQAgent", "AMQControlPlane", "AMQKafkaClient", "AMQKafkaProtocol", "AMQStorage", "AMQStreamIndex", "AMQTestSupport", "AMQTraffic",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQCommandsTests",
            dependencies: [
                "AMQCommands", "AMQKafkaProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwiftSettings
        ),
        .testTarget(
            name: "AMQIntegrationTests",
            dependencies: [
                "amq", "AMQTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwiftSettings
        ),
    ]
)
