// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Conveyor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Conveyor", targets: ["Conveyor"]),
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "Redis", targets: ["Redis"]),
        .executable(name: "conveyor-worker", targets: ["conveyor-worker"]),
        .executable(name: "conveyor", targets: ["conveyor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // C libraries, as Debian ships them (librabbitmq-dev 0.11, libhiredis-dev 0.14).
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // libcurl's headers (libcurl4-openssl-dev); the library itself is loaded at the first mail
        // (dlopen), so a worker that sends none does not map it and its TLS stack.
        .target(name: "CCurl", path: "Sources/CCurl"),

        // What every connection-owning I/O thread shares: command queue with a wake-up fd, backoff.
        .target(name: "IOSupport", dependencies: [
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "AMQP", dependencies: [
            "CRabbitMQ", "IOSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "Redis", dependencies: [
            "CHiredis", "IOSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "Conveyor", dependencies: [
            "AMQP", "Redis", "IOSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // GET /metrics (Prometheus text) and /healthz on a small SwiftNIO HTTP/1 server, and the
        // process_* series from /proc: what conveyor-worker --metrics and conveyor exporter share.
        .target(name: "MetricsEndpoint", dependencies: [
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // What the command-line binaries share: bad usage exits 2.
        .target(name: "CommandLineSupport", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Job families and the worker daemon.
        .target(name: "Diagnostics", dependencies: ["Conveyor", "IOSupport"], path: "workers/Diagnostics"),
        // diffs.compute (and next repos.index / repos.search) over long-lived git processes.
        .target(name: "Repositories", dependencies: [
            "Conveyor", "IOSupport", .product(name: "Logging", package: "swift-log"),
        ], path: "workers/Repositories"),
        // email.send: mustache templates, MIME, SMTP through libcurl on its own I/O thread.
        .target(name: "Email", dependencies: [
            "Conveyor", "IOSupport", "CCurl",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], path: "workers/Email"),
        .executableTarget(name: "conveyor-worker", dependencies: [
            "Conveyor", "Diagnostics", "Repositories", "Email", "CommandLineSupport", "MetricsEndpoint",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], path: "workers/conveyor-worker"),

        // The periodic scheduler behind `conveyor beat`: schedule file, crontab, leader and records.
        .target(name: "Beat", dependencies: [
            "Conveyor", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
        ], path: "ops/beat"),

        // The operators' CLI.
        .executableTarget(name: "conveyor", dependencies: [
            "Conveyor", "CommandLineSupport", "MetricsEndpoint", "Beat",
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "ops/conveyor"),

        // The demo's enqueuer: a few thousand tasks with a progress line.
        .executableTarget(name: "conveyor-demo", dependencies: [
            "Conveyor", "CommandLineSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "ops/demo-enqueuer"),

        // The fault-injection suite (ops/chaos).
        .executableTarget(name: "conveyor-chaos", dependencies: [
            "Conveyor", "IOSupport", "Email",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "ops/chaos-runner"),

        // The side-by-side benchmark against Celery and the raw ceilings (ops/bench).
        .executableTarget(name: "conveyor-bench", dependencies: [
            "Conveyor", "Redis", "IOSupport", "CommandLineSupport", "Repositories",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "ops/bench-tool"),

        // libFuzzer harnesses of the decoders (ops/fuzz links libFuzzer in; a plain build replays inputs).
        .target(name: "CFuzzing", path: "ops/fuzz-targets/CFuzzing"),
        .executableTarget(name: "conveyor-fuzz", dependencies: [
            "Conveyor", "AMQP", "Redis", "CRabbitMQ", "CHiredis", "CFuzzing",
        ], path: "ops/fuzz-targets/conveyor-fuzz"),

        // Tests.
        .target(name: "TestSupport", dependencies: [
            "Conveyor", "Diagnostics", "IOSupport", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "TestSupport"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"]),
        .testTarget(name: "ConveyorTests", dependencies: ["Conveyor", "AMQP", "Redis", "Diagnostics", "MetricsEndpoint", "TestSupport"]),
        .testTarget(name: "InteropTests", dependencies: ["Conveyor", "AMQP", "Diagnostics", "Repositories", "TestSupport"], exclude: ["python"]),
        .testTarget(name: "RepositoriesTests", dependencies: ["Repositories", "Conveyor", "IOSupport", "TestSupport"]),
        .testTarget(name: "BeatTests", dependencies: ["Beat", "Conveyor", "Redis", "TestSupport"]),
        .testTarget(name: "EmailTests", dependencies: ["Email", "Conveyor", "IOSupport", "TestSupport",
                                                    .product(name: "Logging", package: "swift-log")], exclude: ["python"]),
    ]
)
