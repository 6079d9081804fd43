import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

final class GateConfigTests: XCTestCase {
    func parse(_ json: String) throws -> GateConfig {
        try GateConfig.parse(Data(json.utf8), path: "/etc/faregate/gate.json", baseDirectory: "/etc/faregate")
    }

    func testFullConfigParses() throws {
        let c = try parse(
            """
            {"gate_id": "BJ-L1-XIDAN-E01", "station": "xidan", "line": "1", "journal_dir": "/var/lib/faregate/journal",
             "journal_fsync": true, "ring_capacity": 256, "utc_offset_hours": 8,
             "central": {"sqlite": "central.sqlite"},
             "sync": {"interval_seconds": 30, "jitter_seconds": 5, "max_backoff_seconds": 300, "upload_batch": 100},
             "readers": {"backend": "simulated", "count": 2, "script": "taps.txt", "busy_budget_ms": 80},
             "policy": {"health_check": true, "health_yellow": "deny", "max_data_age_seconds": 3600}}
            """)
        XCTAssertEqual(c.gateID, "BJ-L1-XIDAN-E01")
        XCTAssertEqual(
            c.central, .sqlite(path: "/etc/faregate/central.sqlite"), "relative paths resolve against the file")
        XCTAssertEqual(c.readers.script, "/etc/faregate/taps.txt")
        XCTAssertEqual(c.readers.busyBudgetMillis, 80)
        XCTAssertEqual(c.logLevel, .info, "the default log level")
        XCTAssertEqual(try parse(#"{"gate_id": "G", "journal_dir": "j", "log_level": "debug"}"#).logLevel, .debug)
        XCTAssertEqual(c.ringCapacity, 256)
        XCTAssertEqual(c.sync.intervalSeconds, 30)
        XCTAssertEqual(c.policy.healthYellow, .deny)
        XCTAssertEqual(c.policy.maxDataAgeSeconds, 3600)
        XCTAssertEqual(
            c.policy.healthRed, GatePolicy.healthCheckEra.healthRed, "unset policy fields keep the era's defaults")
    }

    func testRideCodesSection() throws {
        let c = try parse(
            #"{"gate_id": "G", "journal_dir": "j", "ride_codes": {"issuer_keys": "keys.json", "max_age_seconds": 45, "#
                + #""scanners": [{"backend": "serial", "device": "/dev/ttyACM0", "baud": 115200, "terminator": "cr", "#
                + #""max_length": 512}, {"backend": "simulated"}]}}"#)
        let r = try XCTUnwrap(c.rideCodes)
        XCTAssertEqual(r.issuerKeys, "/etc/faregate/keys.json")
        XCTAssertEqual(r.replayFile, "/etc/faregate/j/ride-code-replay.bin", "the replay cache beside the journal")
        XCTAssertEqual(r.replayCapacity, 4096)
        XCTAssertEqual(r.freshness, RideCodeFreshness(maxAgeSeconds: 45, maxSkewSeconds: 30))
        XCTAssertEqual(r.scanners.map(\.backend), [.serial, .simulated])
        XCTAssertEqual(r.scanners[0].device, "/dev/ttyACM0")
        XCTAssertEqual(r.scanners[0].baud, 115200)
        XCTAssertEqual(r.scanners[0].terminator, .cr)
        XCTAssertEqual(r.scanners[0].maxLength, 512)
        XCTAssertEqual(r.scanners[1].terminator, .crlf)
        XCTAssertNil(try parse(#"{"gate_id": "G", "journal_dir": "j"}"#).rideCodes)
        let mistakes: [(String, String)] = [
            (#"{"scanners": [{"backend": "simulated"}]}"#, "needs issuer_keys"),
            (#"{"issuer_keys": "k", "scanners": [{"backend": "serial"}]}"#, "scanners[0] needs device"),
            (#"{"issuer_keys": "k", "scanners": [{"backend": "serial", "device": "d", "baud": 1000}]}"#, "not one of"),
            (#"{"issuer_keys": "k", "scanners": [{"backend": "usb"}]}"#, "usb"),
            (#"{"issuer_keys": "k", "scanners": [{"terminator": "nul"}]}"#, "nul"),
            (#"{"issuer_keys": "k", "scanners": [{"max_length": 5}]}"#, "max_length"),
            (#"{"issuer_keys": "k", "scaners": []}"#, "scaners is not a known setting"),
        ]
        for (section, expected) in mistakes {
            XCTAssertThrowsError(try parse(#"{"gate_id": "G", "journal_dir": "j", "ride_codes": "# + section + "}")) {
                XCTAssertTrue("\($0)".contains(expected), "\(section): \($0)")
            }
        }
    }

    /// Issue 17.3's precedence: with a pinned central key the synced issuer keys are in force, so
    /// scanners need no local file, and a local file beside the key is refused as ambiguous.
    func testIssuerKeysComeFromCentralWithAPinnedKeyAndNeverFromBoth() throws {
        // The legacy single key and the root key pin central alike.
        for pin in [#""public_key": "c.pub""#, #""root_key": "root.pub""#] {
            let central =
                #""central": {"sqlite": "c.sqlite", "# + pin + #", "network": "metro", "environment": "production"}"#
            let c = try parse(
                #"{"gate_id": "G", "journal_dir": "j", "# + central
                    + #", "ride_codes": {"scanners": [{"backend": "simulated"}]}}"#)
            XCTAssertNil(c.rideCodes?.issuerKeys, pin)
            XCTAssertEqual(c.rideCodes?.scanners.count, 1, pin)
            XCTAssertThrowsError(
                try parse(
                    #"{"gate_id": "G", "journal_dir": "j", "# + central
                        + #", "ride_codes": {"issuer_keys": "k.json", "scanners": [{"backend": "simulated"}]}}"#)
            ) { XCTAssertTrue("\($0)".contains("cannot be set with central.root_key or central.public_key"), "\($0)") }
        }
        // Without any pinned key, scanners need the local file.
        XCTAssertThrowsError(
            try parse(
                #"{"gate_id": "G", "journal_dir": "j", "central": {"sqlite": "c.sqlite"}, "ride_codes": {"scanners": [{"backend": "simulated"}]}}"#
            )
        ) { XCTAssertTrue("\($0)".contains("needs issuer_keys"), "\($0)") }
    }

    func testEveryMistakeNamesTheSetting() {
        let cases: [(String, String)] = [
            (#"{"journal_dir": "j"}"#, "gate_id is required"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacty": 8}"#, "ring_capacty is not a known setting"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacity": 100}"#, "power of two"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacity": "big"}"#, "ring_capacity must be a number"),
            (#"{"gate_id": "G", "journal_dir": "j", "journal_fsync": 1}"#, "journal_fsync must be true or false"),
            (#"{"gate_id": "G", "journal_dir": "j", "readers": {"backend": "usb"}}"#, "readers.backend"),
            (#"{"gate_id": "G", "journal_dir": "j", "readers": {"busy_budget_ms": 400}}"#, "readers.busy_budget_ms"),
            (#"{"gate_id": "G", "journal_dir": "j", "sync": {"interval": 5}}"#, "sync.interval is not a known setting"),
            (#"{"gate_id": "G", "journal_dir": "j", "policy": {"health_red": "maybe"}}"#, "policy.health_red must be"),
            (#"{"gate_id": "bad id!", "journal_dir": "j"}"#, "gate_id must be"),
            (#"{"gate_id": "G", "journal_dir": "j", "log_level": "loud"}"#, "log_level must be"),
            (#"{"gate_id": "G", "journal_dir": "j", "log_level": 3}"#, "log_level must be"),
            (
                #"{"gate_id": "G", "journal_dir": "j", "central": {"postgres": "host=db user=g password=pw"}}"#,
                "central.postgres must not hold a password (it sets password): give it to libpq in a passfile"
            ),
            (
                #"{"gate_id": "G", "journal_dir": "j", "central": {"sqlite": "c", "root_key": "r.pub", "public_key": "c.pub", "network": "n", "environment": "e"}}"#,
                "set root_key (rotatable keys) or public_key (one pinned key), not both"
            ),
            (
                #"{"gate_id": "G", "journal_dir": "j", "central": {"sqlite": "c", "root_key": "r.pub"}}"#,
                "root_key needs network and environment"
            ),
            (#"[1, 2]"#, "top level must be an object"),
            (#"{"gate_id": "G", "#, "not valid JSON"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try parse(json), json) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), "\(json): \(text)")
                XCTAssertTrue(text.contains("/etc/faregate/gate.json"), "names the file: \(text)")
            }
        }
    }

    /// A password in `central.postgres`, in any form libpq takes, is refused; passwords come from a
    /// libpq passfile. Everything else (including `passfile` itself) is left to libpq.
    func testPostgresConnectionStringMustNotHoldAPassword() throws {
        let refused: [(String, [String])] = [
            ("host=db user=gate password=pw", ["password"]),
            ("host=db password = 'it''s' user=gate", ["password"]),
            ("host=db password='a b\\' c' user=gate", ["password"]),
            ("host=db sslpassword=k sslkey=/etc/k", ["sslpassword"]),
            ("postgresql://gate:pw@db.example/faregate", ["a password in the URI"]),
            ("postgres://gate:pw@db1:5432,db2:5432/faregate?sslmode=verify-full", ["a password in the URI"]),
            ("postgresql://gate@db/faregate?sslmode=verify-full&password=pw", ["password"]),
            ("postgresql://gate@db/faregate?pass%77ord=pw", ["password"]),
            ("dbname='host=db password=pw' user=gate", ["password"]),
            ("host=db user='gate", ["an unterminated quoted value"]),
        ]
        for (conninfo, expected) in refused {
            XCTAssertEqual(LibpqConnectionString.secrets(in: conninfo), expected, conninfo)
            let json =
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\", \"central\": {\"postgres\": \""
                + conninfo.replacingOccurrences(of: "\\", with: "\\\\") + "\"}}"
            XCTAssertThrowsError(try parse(json), conninfo) { error in
                XCTAssertTrue("\(error)".contains("central.postgres must not hold a password"), "\(error)")
            }
        }
        let accepted = [
            "host=db.example port=5432 dbname=faregate user=gate_g1 sslmode=verify-full sslrootcert=/etc/faregate/ca.crt",
            "host=db user=gate passfile=/etc/faregate/pgpass application_name='gate password check'",
            "postgresql://gate@db.example/faregate?sslmode=verify-full&sslrootcert=/etc/faregate/ca.crt",
            "host=a,b port=5432,5432 target_session_attrs=read-write user=passwordless",
        ]
        for conninfo in accepted {
            XCTAssertEqual(LibpqConnectionString.secrets(in: conninfo), [], conninfo)
            let config = try parse(
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\", \"central\": {\"postgres\": \"\(conninfo)\"}}")
            XCTAssertEqual(config.central, .postgres(conninfo: conninfo))
        }
        XCTAssertEqual(LibpqConnectionString.setting("sslmode", in: accepted[0]), "verify-full")
        XCTAssertEqual(LibpqConnectionString.setting("sslrootcert", in: accepted[2]), "/etc/faregate/ca.crt")
        XCTAssertEqual(LibpqConnectionString.setting("application_name", in: accepted[1]), "gate password check")
        XCTAssertNil(LibpqConnectionString.setting("sslmode", in: accepted[1]))
    }

    /// Unknown keys, duplicate keys and trailing commas are refused with the line and column, in
    /// the configuration itself and in its inline policy.
    func testMistakesAreRefusedWithLineAndColumn() {
        let cases: [(String, String)] = [
            (
                "{\"gate_id\": \"G\",\n \"journal_dir\": \"j\",\n \"ring_capacty\": 8}",
                "line 3, column 2: ring_capacty is not a known setting (known: gate_id, station, line, journal_dir"
            ),
            (
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\",\n \"journal_dir\": \"k\"}",
                "line 2, column 2: not valid JSON: duplicate key 'journal_dir' (first at line 1, column 18)"
            ),
            (
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\",\n \"readers\": {\"count\": 2,}}",
                "line 2, column 24: not valid JSON: trailing comma before '}'"
            ),
            (
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\",\n \"policy\": {\"health_red\": \"deny\", \"healthYellow\": \"deny\"}}",
                "line 2, column 35: policy.healthYellow is not a known setting (known: health_check, unbound_card"
            ),
            (
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\", \"barrier\": {\"reader_ends\": [\"paid\", \"both\"]}}",
                "line 1, column 74: barrier.reader_ends[1] must be unpaid or paid, not 'both'"
            ),
            (
                "{\"gate_id\": \"G\", \"journal_dir\": \"j\", // the lane\n}",
                "line 1, column 38: not valid JSON: a comment (JSON has none)"
            ),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try parse(json), json) { error in
                XCTAssertTrue("\(error)".hasPrefix("config /etc/faregate/gate.json: " + expected), "\(json):\n\(error)")
            }
        }
    }

    /// Every setting written by the encoder reads back to the same configuration.
    func testConfigRoundTrip() throws {
        var c = GateConfig(gateID: "BJ-L1-XIDAN-E01", journalDirectory: "/var/lib/faregate/journal")
        c.station = "xidan"
        c.line = "1"
        c.journalFsync = false
        c.journalRotateBytes = 8 << 20
        c.ringCapacity = 64
        c.utcOffsetHours = -3
        c.snapshotFile = "/var/lib/faregate/table.snapshot"
        c.controlSocket = "/run/gate.sock"
        c.metricsFile = "/var/lib/node_exporter/faregate.prom"
        c.metricsIntervalSeconds = 2.5
        c.logLevel = .warning
        c.central = .postgres(conninfo: "host=db1,db2 dbname=faregate")
        c.centralPublicKeyFile = "/etc/faregate/central.pub"
        c.centralNetwork = "metro"
        c.centralEnvironment = "production"
        c.sync.intervalSeconds = 0.25
        c.sync.uploadBatch = 7
        c.readers.backend = .pcsc
        c.readers.names = ["ACR122", "OMNIKEY"]
        c.readers.busyBudgetMillis = 0
        c.barrier.directions = .bidirectional
        c.barrier.enforcement = .shadow
        c.barrier.readerEnds = [.unpaid, .paid]
        c.barrier.unusedOpeningSeconds = 9
        c.access = AccessRules(antiPassbackSeconds: 60, passback: .staff, exitWithoutEntry: .open)
        c.policy = GatePolicy(
            healthCheck: false, unknownCard: .deny, minimumBalanceFen: 0, acceptedMedia: GatePolicy.bit(of: .rideCode),
            acceptedRideCodeIssuers: RideCodeIssuer.hohhot.bit)

        func roundTrip(_ c: GateConfig) throws -> GateConfig {
            try GateConfig.parse(try JSONEncoder().encode(c), path: "gate.json", baseDirectory: "/elsewhere")
        }
        XCTAssertEqual(try roundTrip(c), c)
        c.central = .sqlite(path: "/srv/central.sqlite")
        c.policyDirectory = "/usr/share/faregate/policies"
        c.era = "2024-real-name"
        c.policy = .healthCheckEra  // not written when policy_dir is set
        c.access = nil
        XCTAssertEqual(try roundTrip(c), c)
        var minimal = try parse(#"{"gate_id": "G", "journal_dir": "j", "era": null}"#)
        XCTAssertEqual(try roundTrip(minimal), minimal)
        minimal.snapshotFile = nil
        XCTAssertEqual(try roundTrip(minimal).snapshotFile, "/etc/faregate/j/table.snapshot", "the default")
    }

    /// The examples of README.md "Configuration file" are configurations this build accepts.
    func testRootKeyIsResolvedAndRoundTrips() throws {
        let c = try parse(
            #"{"gate_id": "G", "journal_dir": "j", "central": {"sqlite": "c", "root_key": "root.pub", "network": "metro", "environment": "production"}}"#
        )
        XCTAssertEqual(c.centralRootKeyFile, "/etc/faregate/root.pub")
        XCTAssertNil(c.centralPublicKeyFile)
        let again = try GateConfig.parse(try JSONEncoder().encode(c), path: "gate.json", baseDirectory: "/elsewhere")
        XCTAssertEqual(again.centralRootKeyFile, "/etc/faregate/root.pub")
    }

    func testReadmeExamplesParse() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let section = text.range(of: "### Configuration file") else { return XCTFail("no section") }
        let blocks = text[section.upperBound...].components(separatedBy: "```json\n").dropFirst().prefix(2)
            .compactMap { $0.components(separatedBy: "```").first }
        XCTAssertEqual(blocks.count, 2)
        for block in blocks {
            XCTAssertNoThrow(try parse(block), block)
        }
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try GateConfig.load(path: "/nonexistent/gate.json")) {
            XCTAssertEqual("\($0)", "config /nonexistent/gate.json: does not exist")
        }
    }
}
