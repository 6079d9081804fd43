import FaregateCentralScenarios
import FaregateCore
import FaregatePostgres
import FaregateSodium
import Foundation
import XCTest

/// Least privilege on PostgreSQL (migration 4): a gate connects with its own login, a member of
/// `faregate_gate`, whose password comes from a libpq passfile, and can do what its sync does
/// (read publications, upload its own journal, read its own acknowledgement) and nothing else; an
/// office login does the ticket-office operations and nothing a gate or an admin does.
///
/// Logins are cluster-wide roles: each test makes its own (unique names) and drops them after.
final class PostgresGateRoleTests: XCTestCase {
    var base = ""
    var schema = ""
    var admin = ""
    var logins: [String] = []
    var directory = ""
    /// libpq passfile lines, `host:port:database:user:password`.
    var passfileLines: [String] = []

    override func setUpWithError() throws {
        guard let b = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !b.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        base = b
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        schema = "r_" + suffix
        try PostgresConnection(base).execute("CREATE SCHEMA \(schema)")
        admin = base + " options='-c search_path=\(schema)'"
        directory = NSTemporaryDirectory() + "pgroles-" + suffix
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
        guard !schema.isEmpty else { return }
        let c = try PostgresConnection(base)
        try c.execute("DROP SCHEMA \(schema) CASCADE")
        for l in logins { try c.execute("DROP ROLE IF EXISTS \(l)") }
    }

    /// The value of `key` in the test server's connection string.
    func setting(_ key: String) -> String {
        for part in base.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == key { return String(kv[1]) }
        }
        return ""
    }

    /// A fresh login name of this test (dropped in tearDown).
    func loginName(_ tag: String) -> String {
        let name = "fg_\(schema)_\(tag)"
        logins.append(name)
        return name
    }

    /// Writes the passfile (mode 0600, as libpq requires) and returns its path.
    func passfile() throws -> String {
        let path = directory + "/pgpass"
        try? FileManager.default.removeItem(atPath: path)
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: path, contents: Data((passfileLines.joined(separator: "\n") + "\n").utf8),
                attributes: [.posixPermissions: 0o600]))
        return path
    }

    /// Registers `password` for `login` in the passfile and returns the login's connection string:
    /// over TCP, with no password in it (libpq reads it from `passfile`).
    func connection(_ login: String, password: String, extra: String = "") throws -> String {
        passfileLines.append("\(setting("host")):\(setting("port")):\(setting("dbname")):\(login):\(password)")
        let file = try passfile()
        return "host=\(setting("host")) port=\(setting("port")) dbname=\(setting("dbname")) user=\(login)"
            + " passfile=\(file) options='-c search_path=\(schema)'" + extra
    }

    func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }

    func entry(_ seq: UInt64) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_700_000_000_000 + Int64(seq), reader: 1, key: key(seq), kind: .decision,
            decision: .open(.ok), balanceFen: 100, dataVersion: 1, timings: StageTimings())
    }

    /// A migrated store with cards, one signed snapshot and the key that signed it.
    func centralWithPublications() throws -> (PostgresCentralStore, Ed25519KeyPair) {
        let store = try PostgresCentralStore.create(connecting: admin)
        let keys = try Ed25519KeyPair()
        try store.insertCards(
            (0..<4).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0)], health: .green)
            },
            wallMillis: 1)
        try store.publish(wallMillis: 1)
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: keys, digest: SodiumSHA256())
        try SyncPublisher.storeSnapshot(in: store, scope: .production, signer: keys, digest: SodiumSHA256())
        return (store, keys)
    }

    func assertRefused(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { error in
            switch error {
            case let e as PostgresError:
                XCTAssertEqual(e.sqlstate, .insufficientPrivilege, "\(what): \(e)", file: file, line: line)
            case let e as CentralStoreError:
                XCTAssertEqual(e.code, .refused, "\(what): \(e)", file: file, line: line)
            default:
                XCTFail("\(what): \(error)", file: file, line: line)
            }
        }
    }

    // MARK: the gate's own sync works

    func testGateLoginSyncsWithItsOwnCredentials() throws {
        let (central, keys) = try centralWithPublications()
        let login = loginName("gate_a")
        try central.addGateLogin(GateLogin(login: login, gate: "gate-a"), password: "a-secret-from-the-passfile")
        let conninfo = try connection(login, password: "a-secret-from-the-passfile")
        XCTAssertFalse(conninfo.contains("secret"), "the password is in the passfile, not the connection string")

        // Pull: the gate's signed update, every statement run as the gate's login.
        let gate = try PostgresCentralStore(connecting: conninfo)
        let sync = GateSync(mode: .signed(try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: .production)))
        guard case .replace(let table, _, _) = try sync.update(from: gate, inService: nil) else {
            return XCTFail("a gate without a table takes the snapshot")
        }
        XCTAssertEqual(table.dataVersion, 1)
        XCTAssertEqual(table.count, 4)
        try central.setHealth(of: key(0), to: .red, wallMillis: 2)
        XCTAssertEqual(try central.publish(wallMillis: 2).version, 2)
        try SyncPublisher.signNewVersions(in: central, scope: .production, signer: keys, digest: SodiumSHA256())
        guard case .apply(let changes, let version, _, _) = try sync.update(from: gate, inService: table) else {
            return XCTFail("the gate follows the delta chain")
        }
        XCTAssertEqual(version, 2)
        XCTAssertEqual(changes.map(\.key), [key(0)])

        // Upload: the acknowledgement moves over the contiguous prefix only (the trigger, not the gate).
        try gate.uploadJournal(gate: "gate-a", entries: [1, 2, 4].map(entry))
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-a"), 2, "3 is missing")
        try gate.uploadJournal(gate: "gate-a", entries: [1, 2, 3, 4, 5].map(entry))
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-a"), 5)
        XCTAssertEqual(try central.journal(gate: "gate-a"), (1...5).map(entry), "every record exactly once")
        XCTAssertEqual(try central.acknowledgedSequence(gate: "gate-a"), 5)

        // Its sync time and version, as the sync service records them after every sync.
        try gate.recordSync(gate: "gate-a", dataVersion: 2, wallMillis: 7)
        let state = try XCTUnwrap(try central.gateStates().first { $0.gate == "gate-a" })
        XCTAssertEqual(state.lastSyncMillis, 7)
        XCTAssertEqual(state.dataVersion, 2)
        XCTAssertEqual(state.acknowledgedSequence, 5, "recording a sync leaves the acknowledgement alone")
    }

    /// Holes and conflicts on the gate's own login (migration 5): a gate records the sequences it
    /// lost and central flags a record that differs from the one it holds; the acknowledgement
    /// (the owner's trigger) counts holes and stops below a conflict, never past it.
    func testGateLoginRecordsHolesAndConflictsOfItsOwn() throws {
        let (central, _) = try centralWithPublications()
        let login = loginName("gate_h")
        try central.addGateLogin(GateLogin(login: login, gate: "gate-h"), password: "h-secret")
        let gate = try PostgresCentralStore(connecting: try connection(login, password: "h-secret"))
        try gate.uploadJournal(gate: "gate-h", entries: [1, 2, 5, 6].map(entry))
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-h"), 2)
        try gate.recordHoles(gate: "gate-h", ranges: [3...4], reason: "damaged line")
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-h"), 6, "holes count for the acknowledgement")
        XCTAssertEqual(try gate.highestSequence(gate: "gate-h"), 6)

        // Sequence 7 stored, then other bytes offered for 2 (already acknowledged) and for 7.
        try gate.uploadJournal(gate: "gate-h", entries: [entry(7)])
        var forged = entry(2)
        forged.decision = .deny(.blacklisted)
        var other = entry(7)
        other.balanceFen = 1
        try gate.uploadJournal(gate: "gate-h", entries: [forged, other, entry(8)])
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-h"), 1, "never acknowledged at or past a conflict")
        XCTAssertEqual(try central.journalConflicts(gate: "gate-h").map(\.sequence), [2, 7])
        XCTAssertEqual(try central.journalHoles(gate: "gate-h").map(\.sequence), [3, 4])
        XCTAssertEqual(
            try central.journal(gate: "gate-h").map(\.sequence), [1, 2, 5, 6, 7, 8], "the first records stay")
        try gate.uploadJournal(gate: "gate-h", entries: [forged])
        XCTAssertEqual(
            try central.journalConflicts(gate: "gate-h").count, 2, "a conflict offered again is flagged once")

        // Another gate's holes are refused like its records.
        assertRefused("holes of another gate") { try gate.recordHoles(gate: "gate-x", ranges: [1...1], reason: "x") }
        XCTAssertTrue(try central.journalHoles(gate: "gate-x").isEmpty)

        // A passage on a ride code: its evidence row goes in on the gate's own login (migration 7).
        let shanghai = RideCodeEvidenceScenarios.evidence(.shanghai, account: 5, counter: 2)
        try gate.uploadJournal(gate: "gate-h", entries: [RideCodeEvidenceScenarios.entry(9, shanghai)])
        XCTAssertEqual(try central.rideCodeRides(issuer: nil, clearingOnly: true).map(\.evidence), [shanghai])
        assertRefused("evidence of another gate") {
            try gate.uploadJournal(gate: "gate-x", entries: [RideCodeEvidenceScenarios.entry(1, shanghai)])
        }
    }

    /// The acknowledgement is the trigger's (one gate's row lock serialises it): uploads of one gate
    /// racing on several connections, each holding sequences the others lack, still end with every
    /// record acknowledged — no run of stored records left unacknowledged by an interleaving.
    func testConcurrentUploadsOfOneGateAcknowledgeEverything() throws {
        let central = try PostgresCentralStore.create(connecting: admin)
        let login = loginName("gate_c")
        try central.addGateLogin(GateLogin(login: login, gate: "gate-c"), password: "pw-c")
        let conninfo = try connection(login, password: "pw-c")
        let uploaders = 4
        let total: UInt64 = 400
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let failures = Failures()
        let group = DispatchGroup()
        let entries = (1...total).map(entry)
        for u in 0..<uploaders {
            spawn(group) {
                var arrived = false
                do {
                    let gate = try PostgresCentralStore(connecting: conninfo)
                    arrived = true
                    ready.signal()
                    go.wait()
                    let mine = entries.filter { Int($0.sequence % UInt64(uploaders)) == u }
                    for start in stride(from: 0, to: mine.count, by: 25) {
                        try gate.uploadJournal(
                            gate: "gate-c", entries: Array(mine[start..<min(start + 25, mine.count)]))
                    }
                } catch {
                    failures.add("uploader \(u): \(error)")
                    if !arrived {
                        ready.signal()
                        go.wait()
                    }
                }
            }
        }
        for _ in 0..<uploaders { ready.wait() }
        for _ in 0..<uploaders { go.signal() }
        group.wait()
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(try central.acknowledgedSequence(gate: "gate-c"), total)
        XCTAssertEqual(try central.journal(gate: "gate-c").count, Int(total))
    }

    // MARK: and nothing else

    func testGateLoginIsRefusedCardsPublicationsAndOtherGates() throws {
        let (central, _) = try centralWithPublications()
        let a = loginName("gate_a")
        let b = loginName("gate_b")
        try central.addGateLogin(GateLogin(login: a, gate: "gate-a"), password: "pw-a")
        try central.addGateLogin(GateLogin(login: b, gate: "gate-b"), password: "pw-b")
        try central.uploadJournal(gate: "gate-b", entries: [1, 2].map(entry))
        let conninfo = try connection(a, password: "pw-a")
        let raw = try PostgresConnection(conninfo)
        let gate = try PostgresCentralStore(connecting: conninfo)

        assertRefused("UPDATE cards") { try raw.execute("UPDATE cards SET blacklisted = true") }
        assertRefused("INSERT cards") {
            try raw.execute("INSERT INTO cards(card_key, medium, number) VALUES (1, 1, '1')")
        }
        assertRefused("read cards") { try raw.execute("SELECT count(*) FROM cards") }
        assertRefused("read identities") { try raw.execute("SELECT count(*) FROM identities") }
        assertRefused("full reload from card rows") { _ = try gate.forEachStatus { _, _ in } }
        assertRefused("publish") { try gate.publish(wallMillis: 3) }
        assertRefused("INSERT publications") {
            try raw.execute(
                "INSERT INTO publications(kind, from_version, to_version, envelope, body) VALUES (2, 1, 2, '', '')")
        }
        assertRefused("UPDATE publications") { try raw.execute("UPDATE publications SET body = ''") }
        assertRefused("DELETE publications") { try raw.execute("DELETE FROM publications") }
        let p = try XCTUnwrap(try central.latestSnapshot())
        assertRefused("store a publication") { try gate.storePublication(p) }

        // Another gate's records: refused whole (the transaction), central keeps the real ones.
        assertRefused("upload as gate-b") { try gate.uploadJournal(gate: "gate-b", entries: [3, 4].map(self.entry)) }
        assertRefused("upload for a gate nobody mapped") {
            try gate.uploadJournal(gate: "gate-z", entries: [1].map(self.entry))
        }
        assertRefused("a raw row for gate-b") {
            try raw.execute(
                """
                INSERT INTO journal(gate_id, seq, wall_ms, card_key, kind, outcome, reason, record)
                VALUES ('gate-b', 9, 0, 0, 'decision', 'open', 'ok', 'forged')
                """)
        }
        XCTAssertEqual(try central.journal(gate: "gate-b"), [1, 2].map(entry))
        XCTAssertEqual(try central.acknowledgedSequence(gate: "gate-b"), 2)

        // Its own acknowledgement and mapping: readable, not writable; other gates' are invisible.
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-b"), 0, "gate-b's state is not visible to gate-a")
        XCTAssertEqual(try raw.query("SELECT count(*) FROM journal").int64(0, 0), 0, "gate-b's records are not visible")
        assertRefused("UPDATE gates") { try raw.execute("UPDATE gates SET acked_seq = 1000") }
        assertRefused("INSERT gates") { try raw.execute("INSERT INTO gates(gate_id) VALUES ('gate-x')") }
        assertRefused("record another gate's sync") {
            try raw.execute("INSERT INTO gates(gate_id, last_sync_at) VALUES ('gate-b', 1)")
        }
        try raw.execute("UPDATE gates SET last_sync_at = 1, data_version = 99 WHERE gate_id = 'gate-b'")
        XCTAssertNotEqual(
            try central.gateStates().first { $0.gate == "gate-b" }?.dataVersion, 99,
            "another gate's row is invisible to an UPDATE")
        assertRefused("remap itself") { try raw.execute("UPDATE gate_logins SET gate_id = 'gate-b'") }
        assertRefused("map itself again") {
            try raw.execute("INSERT INTO gate_logins(login, gate_id) VALUES (current_user, 'gate-x')")
        }
        assertRefused("DELETE own records") { try raw.execute("DELETE FROM journal") }
        assertRefused("become admin") { try raw.execute("SET ROLE faregate_admin") }
        assertRefused("schema change") { try raw.execute("DROP TABLE journal") }
        XCTAssertEqual(
            try raw.query("SELECT gate_id FROM gate_logins").text(0, 0), "gate-a", "it sees its own mapping only")
        XCTAssertEqual(try raw.query("SELECT count(*) FROM gate_logins").int64(0, 0), 1)
        XCTAssertEqual(try central.gateLogins().map(\.gate), ["gate-a", "gate-b"])
    }

    /// A role in `faregate_gate` that no row maps to a gate can insert nothing.
    func testUnmappedGateRoleInsertsNothing() throws {
        _ = try PostgresCentralStore.create(connecting: admin)
        let login = loginName("stray")
        try PostgresConnection(base).execute("CREATE ROLE \(login) LOGIN PASSWORD 'stray-pw' IN ROLE faregate_gate")
        let gate = try PostgresCentralStore(connecting: try connection(login, password: "stray-pw"))
        assertRefused("upload") { try gate.uploadJournal(gate: "gate-a", entries: [1].map(self.entry)) }
        XCTAssertEqual(try gate.acknowledgedSequence(gate: "gate-a"), 0)
    }

    func testOfficeLoginDoesOperationsOnly() throws {
        let (central, _) = try centralWithPublications()
        let login = loginName("office")
        try PostgresConnection(base).execute("CREATE ROLE \(login) LOGIN PASSWORD 'office-pw' IN ROLE faregate_office")
        let office = try PostgresCentralStore(connecting: try connection(login, password: "office-pw"))
        let card = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 77))
        let id = [UInt8](repeating: 5, count: 32)
        XCTAssertNil(
            try office.perform(
                CentralOperation(name: "issue", key: card, effects: [.issueCard, .bindCard], identityHash: id),
                wallMillis: 10))
        XCTAssertEqual(try office.physicalCardsBound(identityHash: id), 1)
        XCTAssertNil(
            try office.perform(CentralOperation(name: "return", key: card, effects: [.returnCard]), wallMillis: 11))
        XCTAssertEqual(try office.operationLog(of: card).map(\.name), ["issue", "return"])
        XCTAssertNotNil(try office.cardFacts(card))

        assertRefused("publish") { try office.publish(wallMillis: 12) }
        assertRefused("set health") { try office.setHealth(of: card, to: .red, wallMillis: 12) }
        assertRefused("upload a journal") { try office.uploadJournal(gate: "gate-a", entries: [1].map(self.entry)) }
        let p = try XCTUnwrap(try central.latestSnapshot())
        assertRefused("store a publication") { try office.storePublication(p) }
        // The admin publishes what the office did.
        XCTAssertEqual(try central.publish(wallMillis: 13).cards, 1)
    }

    /// A person in `faregate_admin` (not the tables' owner, not a superuser) runs the whole admin
    /// path: import, bind, health, publish and sign, change feed, gate state, journals, and (with
    /// CREATEROLE) gate logins.
    func testAdminLoginAdministersWithoutOwningTheTables() throws {
        _ = try PostgresCentralStore.create(connecting: admin)
        let login = loginName("admin")
        try PostgresConnection(base).execute(
            "CREATE ROLE \(login) LOGIN CREATEROLE PASSWORD 'admin-pw' IN ROLE faregate_admin")
        let store = try PostgresCentralStore(connecting: try connection(login, password: "admin-pw"))
        let keys = try Ed25519KeyPair()
        try store.insertCards(
            (0..<3).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0)], health: .green)
            },
            wallMillis: 1)
        try store.insertCards(
            [CentralCardRecord(key: key(9), cardType: .normal, identityHash: nil, health: .unknown)], wallMillis: 1)
        try store.bind(key(9), identityHash: [9], wallMillis: 2)
        XCTAssertEqual(try store.setHealth(of: key(0), to: .red, wallMillis: 2), 1)
        XCTAssertEqual(try store.publish(wallMillis: 3), PublishResult(version: 1, cards: 4))
        XCTAssertEqual(
            try SyncPublisher.signNewVersions(in: store, scope: .production, signer: keys, digest: SodiumSHA256()), [1])
        XCTAssertEqual(
            try SyncPublisher.storeSnapshot(in: store, scope: .production, signer: keys, digest: SodiumSHA256())
                .toVersion, 1)
        XCTAssertEqual(try XCTUnwrap(try store.changes(after: 0, maxChanges: 100)).changes.count, 4)
        var n = 0
        XCTAssertEqual(try store.forEachStatus { _, _ in n += 1 }, 1)
        XCTAssertEqual(n, 4)
        try store.uploadJournal(gate: "bench-1", entries: [1, 2].map(entry))
        try store.recordSync(gate: "bench-1", dataVersion: 1, wallMillis: 4)
        XCTAssertEqual(try store.gateStates().first?.acknowledgedSequence, 2)
        XCTAssertEqual(try store.stats().journalRecords, 2)
        let gate = loginName("gate_by_admin")
        try store.addGateLogin(GateLogin(login: gate, gate: "gate-x"), password: "pw-x")
        XCTAssertEqual(try store.gateLogins().map(\.login), [gate])
        try store.removeGateLogin(gate)
    }

    // MARK: managing gate logins

    func testGateRoleAddListRemove() throws {
        let central = try PostgresCentralStore.create(connecting: admin)
        let login = loginName("gate_m")
        try central.addGateLogin(GateLogin(login: login, gate: "gate-m"), password: "pw-m")
        XCTAssertEqual(try central.gateLogins(), [GateLogin(login: login, gate: "gate-m")])
        XCTAssertEqual(try central.gateStates().map(\.gate), ["gate-m"], "the gate is registered")

        func refused(_ g: GateLogin, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try central.addGateLogin(g, password: nil), line: line) { error in
                XCTAssertEqual((error as? CentralStoreError)?.code, .refused, line: line)
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        refused(GateLogin(login: login, gate: "gate-n"), "already mapped")
        refused(GateLogin(login: loginName("other"), gate: "gate-m"), "already mapped")
        refused(GateLogin(login: "Bad-Name", gate: "gate-q"), "lower-case")
        refused(GateLogin(login: "pg_gate", gate: "gate-q"), "reserved")
        refused(GateLogin(login: "faregate_admin", gate: "gate-q"), "group roles")
        refused(GateLogin(login: "gate_q", gate: "gate q"), "gate id")
        // An existing role with more power than a gate's is never taken over.
        let office = loginName("office")
        try PostgresConnection(base).execute("CREATE ROLE \(office) LOGIN IN ROLE faregate_office")
        refused(GateLogin(login: office, gate: "gate-q"), "not a plain login")

        // The gate can log in; after removal its role is gone and so is its access.
        let conninfo = try connection(login, password: "pw-m")
        XCTAssertEqual(try PostgresCentralStore(connecting: conninfo).acknowledgedSequence(gate: "gate-m"), 0)
        try central.removeGateLogin(login)
        XCTAssertEqual(try central.gateLogins(), [])
        XCTAssertEqual(try PostgresConnection(base).query("SELECT 1 FROM pg_roles WHERE rolname = $1", [login]).rows, 0)
        XCTAssertThrowsError(try PostgresCentralStore(connecting: conninfo)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .unavailable)
        }
        XCTAssertThrowsError(try central.removeGateLogin(login)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
        }
    }

    /// Roles are cluster-wide: a second database (here a second schema) migrates over roles that
    /// already exist, and each schema's grants are its own.
    func testRoleMigrationIsIdempotentAcrossDatabases() throws {
        try PostgresCentralStore.create(connecting: admin)
        let second = "r2_" + schema.dropFirst(2)
        let c = try PostgresConnection(base)
        try c.execute("CREATE SCHEMA \(second)")
        defer { try? c.execute("DROP SCHEMA \(second) CASCADE") }
        try PostgresCentralStore.create(connecting: base + " options='-c search_path=\(second)'")
        try PostgresCentralStore.create(connecting: admin)
        XCTAssertEqual(
            try c.query(
                "SELECT count(*) FROM pg_roles WHERE rolname IN ('faregate_admin', 'faregate_office', 'faregate_gate')"
            ).int64(0, 0), 3)
        XCTAssertEqual(
            try c.query(
                """
                SELECT count(*) FROM pg_roles
                WHERE rolname IN ('faregate_admin', 'faregate_office', 'faregate_gate') AND rolcanlogin
                """
            ).int64(0, 0), 0,
            "the group roles cannot log in")
    }

    // MARK: TLS

    /// One connection over TLS with `sslmode=verify-full` against the test CA (made by
    /// scripts/services/postgres with openssl), as a gate's login with its passfile; a server name
    /// the certificate does not carry is refused.
    func testGateConnectsOverVerifiedTLS() throws {
        guard let ca = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG_CA"], !ca.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG_CA is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG_CA not set: start scripts/services/postgres")
        }
        let central = try PostgresCentralStore.create(connecting: admin)
        let login = loginName("gate_tls")
        try central.addGateLogin(GateLogin(login: login, gate: "gate-tls"), password: "pw-tls")
        let tls = " sslmode=verify-full sslrootcert=\(ca)"
        let conninfo = try connection(login, password: "pw-tls", extra: tls)
        let c = try PostgresConnection(conninfo)
        let r = try c.query("SELECT ssl::text, version, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        XCTAssertEqual(r.text(0, 0), "true")
        XCTAssertEqual(r.text(0, 2), login)
        XCTAssertEqual(try PostgresCentralStore(connecting: conninfo).acknowledgedSequence(gate: "gate-tls"), 0)

        // The same server under a name its certificate does not have: refused before any password.
        let wrongName =
            "hostaddr=\(setting("host")) host=central.invalid port=\(setting("port")) dbname=\(setting("dbname"))"
            + " user=\(login) passfile=\(try passfile())" + tls
        XCTAssertThrowsError(try PostgresConnection(wrongName)) { error in
            XCTAssertTrue("\(error)".contains("does not match host name"), "\(error)")
        }
        // Without the password in the passfile: refused (SCRAM for every non-superuser over TCP).
        passfileLines = []
        XCTAssertThrowsError(try PostgresConnection(conninfo + " passfile=\(try passfile())")) { error in
            XCTAssertTrue("\(error)".contains("password"), "\(error)")
        }
    }
}
