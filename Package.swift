// swift-tools-version:6.0
// faregate: fare-gate firmware and controller. No SwiftPM package dependencies by design (an
// auditable firmware supply chain): C libraries come in as system library targets below.
import PackageDescription

// The git commit stamped into `--version` and `faregate_build_info`: `FAREGATE_COMMIT=$(git rev-parse
// --short HEAD) swift build -c release`. Only letters, digits and `-+.` are kept (it becomes a C string
// literal); unset or empty: "unknown", so a clean clone's plain `swift build` works.
let buildCommit = String(
    (Context.environment["FAREGATE_COMMIT"] ?? "").filter { $0.isLetter || $0.isNumber || "-+.".contains($0) }
        .prefix(64))

let package = Package(
    name: "faregate",
    products: [
        .executable(name: "faregated", targets: ["faregated"]),
        .executable(name: "farectl", targets: ["farectl"]),
    ],
    targets: [
        // MARK: C libraries (system library targets; installed by scripts/install-deps)
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // OpenSSL 3 libcrypto for SM2 with SM3 (ride code v1, issue 17).
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // QR symbols for `farectl ride-code show` and reading them back for `decode` (bench tools).
        .systemLibrary(
            name: "CQREncode", path: "Sources/CQREncode", pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZBar", path: "Sources/CZBar", pkgConfig: "zbar", providers: [.apt(["libzbar-dev"])]),

        // The build's commit as a C string macro (Swift's -D carries no values); see `buildCommit`.
        .target(
            name: "CFaregateBuildInfo",
            cSettings: buildCommit.isEmpty ? [] : [.define("FAREGATE_COMMIT", to: "\"\(buildCommit)\"")]),

        // Linux calls hidden behind _GNU_SOURCE (SO_PEERCRED), as swift-nio's CNIOLinux does.
        .target(name: "CFaregateLinux"),

        .systemLibrary(
            name: "CPCSC",
            path: "Sources/CPCSC",
            pkgConfig: "libpcsclite",
            providers: [.apt(["libpcsclite-dev"])]
        ),

        .systemLibrary(
            name: "CUSB", path: "Sources/CUSB", pkgConfig: "libusb-1.0", providers: [.apt(["libusb-1.0-0-dev"])]),

        // Modbus RTU and TCP, both ends (issue 15): the I/O board adapter and the board emulator.
        .systemLibrary(
            name: "CModbus", path: "Sources/CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),

        // MARK: Pure core: domain, decisions, state machines, data structures. No I/O, no C.
        .target(name: "FaregateCore"),

        // MARK: Simulated hardware with out-of-band controls (tests and the daemon's simulated mode).
        .target(name: "FaregateSimulation", dependencies: ["FaregateCore"]),

        // MARK: Adapters over C libraries: the only modules that import a C module.
        // The stores verify gates' journal signatures (issue 16.5) with FaregateSodium's Ed25519.
        .target(name: "FaregateSQLite", dependencies: ["FaregateCore", "CSQLite", "FaregateSodium"]),
        .target(name: "FaregatePostgres", dependencies: ["FaregateCore", "CLibPQ", "FaregateSodium"]),
        .target(name: "FaregateSodium", dependencies: ["FaregateCore", "CSodium"]),
        .target(name: "FaregateSM2", dependencies: ["COpenSSL"]),
        .target(name: "FaregateQREncode", dependencies: ["CQREncode"]),
        .target(name: "FaregateZBar", dependencies: ["CZBar"]),

        // MARK: The I/O board over Modbus and its emulator (the only module importing CModbus).
        .target(name: "FaregateModbus", dependencies: ["FaregateCore", "CModbus", "CFaregateLinux"]),

        // MARK: Virtual cards for the vsmartcard vpcd driver of a real pcscd (TCP; no C library).
        .target(name: "FaregateVirtualCard", dependencies: ["FaregateCore", "FaregateSimulation"]),

        // MARK: PC/SC reader over libpcsclite (the only module importing CPCSC).
        .target(name: "FaregatePCSC", dependencies: ["FaregateCore", "CPCSC"]),
        // MARK: USB bus enumeration over libusb (bench tool: which NFC readers are plugged in).
        .target(name: "FaregateUSB", dependencies: ["CUSB"]),

        // MARK: Runtime: threads, files, configuration, the gate pipeline. No simulation inside:
        // simulated backends reach it only through the composition roots.
        .target(name: "FaregateRuntime", dependencies: ["FaregateCore", "CFaregateLinux", "CFaregateBuildInfo"]),

        // MARK: Station and gate simulations and their reports (farectl simulate / station), above
        // the runtime: they run real GateRuntimes on simulated readers and barriers.
        .target(
            name: "FaregateStationSimulation", dependencies: ["FaregateCore", "FaregateRuntime", "FaregateSimulation"]),

        // MARK: Rings the benchmark compares with the gate's SPSC ring (not part of the product).
        .target(name: "FaregateBenchRings", dependencies: ["FaregateCore"]),

        // MARK: Fuzz targets (issue 13): one harness per parser of outside input, in a library so
        // the XCTest suite replays the corpus and crash inputs through the same code; the
        // `faregate-fuzz` executable is built only by scripts/fuzz, with -sanitize=fuzzer.
        .target(
            name: "FaregateFuzzTargets",
            dependencies: ["FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateSodium", "FaregateSM2"]),
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "faregate-fuzz", dependencies: ["FaregateFuzzTargets", "CFuzzerDriver"]),

        // MARK: Composition roots: the only places that choose real or simulated backends.
        .executableTarget(
            name: "faregated",
            dependencies: [
                "FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateSQLite", "FaregatePostgres",
                "FaregateSodium", "FaregatePCSC", "FaregateModbus", "FaregateSM2",
            ]
        ),
        .executableTarget(
            name: "farectl",
            dependencies: [
                "FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateStationSimulation", "FaregateSQLite",
                "FaregatePostgres", "FaregateSodium", "FaregateVirtualCard", "FaregatePCSC", "FaregateUSB",
                "FaregateModbus",
                "FaregateSM2", "FaregateQREncode", "FaregateZBar",
            ]
        ),

        // Bench: card present → read done through the real pcscd + vpcd (BENCHMARKS.md).
        .executableTarget(
            name: "faregate-pcsc-bench",
            dependencies: [
                "FaregateCore", "FaregatePCSC", "FaregateRuntime", "FaregateSimulation", "FaregateVirtualCard",
            ]
        ),

        // Bench: sensor edge → controller and command → coil over real libmodbus (BENCHMARKS.md).
        .executableTarget(
            name: "faregate-modbus-bench", dependencies: ["FaregateCore", "FaregateModbus", "FaregateRuntime"]),

        // MARK: The crash-and-fault torture driver (issue 13; release build via scripts/torture, not
        // part of the product): release faregated subprocesses against a real central.
        .executableTarget(
            name: "faregate-torture",
            dependencies: [
                "FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateSQLite", "FaregatePostgres",
                "FaregateSodium",
            ]),

        // MARK: Benchmarks (release build via scripts/bench; not part of the product)
        .executableTarget(
            name: "faregate-bench", dependencies: ["FaregateCore", "FaregateRuntime", "FaregateBenchRings"]),

        // MARK: Tests
        .testTarget(
            name: "FaregateCoreTests", dependencies: ["FaregateCore", "FaregateSimulation", "FaregateBenchRings"]),
        .testTarget(
            name: "FaregateRuntimeTests",
            dependencies: [
                "FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateSQLite", "FaregateSodium",
                "FaregateBenchRings", "FaregateFuzzTargets", "FaregatePostgres", "FaregateSM2", "FaregateModbus",
            ]
        ),
        .testTarget(
            name: "FaregateStationSimulationTests",
            dependencies: [
                "FaregateCore", "FaregateRuntime", "FaregateSimulation", "FaregateStationSimulation", "FaregateSQLite",
                "FaregateSodium", "FaregateSM2",
            ]
        ),
        // Central operations' rule scenarios, run by both store suites against their backend.
        .target(
            name: "FaregateCentralScenarios", dependencies: ["FaregateCore"], path: "Tests/FaregateCentralScenarios"),
        .testTarget(
            name: "FaregateSQLiteTests",
            dependencies: ["FaregateCore", "FaregateSQLite", "FaregateSodium", "FaregateCentralScenarios"]),
        .testTarget(
            name: "FaregatePostgresTests",
            dependencies: ["FaregateCore", "FaregatePostgres", "FaregateSodium", "FaregateCentralScenarios"]),
        .testTarget(name: "FaregateSodiumTests", dependencies: ["FaregateCore", "FaregateSodium"]),
        // Ride code v1: format, checks, replay cache, issuer keys, both signature algorithms
        // (openssl command line known answers), QR render → decode.
        .testTarget(
            name: "FaregateRideCodeTests",
            dependencies: ["FaregateCore", "FaregateSodium", "FaregateSM2", "FaregateQREncode", "FaregateZBar"]),
        .testTarget(name: "FaregateUSBTests", dependencies: ["FaregateUSB"]),
        .testTarget(
            name: "FaregateModbusTests",
            dependencies: ["FaregateCore", "FaregateModbus", "FaregateRuntime", "FaregateSimulation"]),
        .testTarget(
            name: "FaregatePCSCTests",
            dependencies: [
                "FaregateCore", "FaregatePCSC", "FaregateSimulation", "FaregateVirtualCard", "FaregateRuntime",
                "FaregateSQLite",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
