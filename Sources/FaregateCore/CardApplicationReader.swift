/// What a gate learns from one card beyond `CardRead`: shown by `farectl card read`.
public struct CardDetails: Hashable, Sendable {
    public var read: CardRead
    /// City code of the issuer (T-Union SFI 15 bytes 2–3; `1000` is Beijing), or the first four
    /// digits of a municipal serial.
    public var cityCode: String?
    /// Stored card number as on the chip (T-Union: 20 digits; municipal: 16 digits).
    public var storedNumber: String

    public init(read: CardRead, cityCode: String?, storedNumber: String) {
        self.read = read
        self.cityCode = cityCode
        self.storedNumber = storedNumber
    }
}

/// The result of one read: the outcome and, when asked for, the APDU exchange.
public struct CardReadReport: Equatable, Sendable {
    public var outcome: Result<CardDetails, CardReadError>
    public var exchanges: [APDUExchange]

    public init(outcome: Result<CardDetails, CardReadError>, exchanges: [APDUExchange] = []) {
        self.outcome = outcome
        self.exchanges = exchanges
    }

    /// The tap result the gate pipeline journals and decides on.
    public var tapResult: Tap.Result {
        switch outcome {
        case .success(let d): .card(d.read)
        case .failure(let e): .failed(e.failure, e.key)
        }
    }
}

/// Reads the transit card applications a Beijing gate accepts, over any transport.
///
/// The procedure is pure: it only calls `transmit`, so it runs the same over PC/SC, over the
/// simulated card in tests and inside `farectl card read`. Order: T-Union (JT/T 978) first — PPSE,
/// then the AID, falling back to the AID directly when PPSE is missing — then the Beijing
/// municipal card (MF files, DF 1001). The cardholder file (T-Union SFI 16: name and ID number) is
/// never read: the gate needs the number and the card's own status, nothing personal.
public struct CardApplicationReader: Sendable {
    /// "2PAY.SYS.DDF01": the proximity payment system environment.
    public static let ppseName: [UInt8] = Array("2PAY.SYS.DDF01".utf8)
    /// T-Union transit application identifier.
    public static let tUnionAID: [UInt8] = [0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05]
    /// Beijing municipal card: the purse directory under the MF.
    public static let municipalDF: UInt16 = 0x1001
    public static let masterFile: UInt16 = 0x3F00

    /// Whether to keep the exchange (costs allocations; off on the gate's hot path).
    public var recordExchanges: Bool

    public init(recordExchanges: Bool = false) { self.recordExchanges = recordExchanges }

    /// Reads the card. `onSelected` is called once the application has been selected (the
    /// gate's `selectedAt` stamp). Never throws: failures are in the report.
    public func read(
        onSelected: () -> Void = {}, transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
    ) -> CardReadReport {
        var session = Session(record: recordExchanges)
        let outcome: Result<CardDetails, CardReadError>
        do throws(CardReadError) {
            outcome = .success(try readApplications(&session, onSelected: onSelected, transmit: transmit))
        } catch {
            outcome = .failure(error)
        }
        return CardReadReport(outcome: outcome, exchanges: session.exchanges)
    }

    struct Session {
        var record: Bool
        var exchanges: [APDUExchange] = []
        var key: CardKey?

        mutating func send(
            _ command: CommandAPDU, step: String, _ transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
        ) throws(CardReadError) -> ResponseAPDU {
            do throws(CardIOError) {
                let r = try transmit(command)
                if record { exchanges.append(APDUExchange(step: step, command: command, response: r, error: nil)) }
                return r
            } catch {
                if record { exchanges.append(APDUExchange(step: step, command: command, response: nil, error: error)) }
                throw CardReadError(.io(error.kind), step: step, message: error.message, key: key)
            }
        }

        /// Sends `command` and requires 9000 and at least `minimum` data bytes.
        mutating func file(
            _ command: CommandAPDU, step: String, minimum: Int,
            _ transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
        ) throws(CardReadError) -> [UInt8] {
            let r = try send(command, step: step, transmit)
            guard r.status.isSuccess else { throw unexpected(r.status, step: step) }
            guard r.data.count >= minimum else {
                throw CardReadError(
                    .malformedData, step: step,
                    message: "response has \(r.data.count) data bytes, the file needs at least \(minimum)", key: key)
            }
            return r.data
        }

        func unexpected(_ sw: StatusWord, step: String) -> CardReadError {
            CardReadError(.unexpectedStatus(sw), step: step, message: "card answered status \(sw)", key: key)
        }

        func malformed(_ message: String, step: String) -> CardReadError {
            CardReadError(.malformedData, step: step, message: message, key: key)
        }
    }

    func readApplications(
        _ s: inout Session, onSelected: () -> Void, transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
    ) throws(CardReadError) -> CardDetails {
        if let details = try readTUnion(&s, onSelected: onSelected, transmit: transmit) { return details }
        return try readMunicipal(&s, onSelected: onSelected, transmit: transmit)
    }

    // MARK: T-Union (JT/T 978)

    /// nil when the card has no T-Union application (the caller then tries the municipal card).
    func readTUnion(
        _ s: inout Session, onSelected: () -> Void, transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
    ) throws(CardReadError) -> CardDetails? {
        // PPSE is informative only: a card without it (6A82) is still tried by AID, as the spec allows.
        _ = try s.send(.select(aid: Self.ppseName), step: "SELECT PPSE", transmit)
        let step = "SELECT T-Union AID"
        let sel = try s.send(.select(aid: Self.tUnionAID), step: step, transmit)
        let blocked: Bool
        switch sel.status {
        case .success: blocked = false
        case .selectedFileInvalidated: blocked = true
        case let sw where sw.meansNotPresent: return nil
        case let sw: throw s.unexpected(sw, step: step)
        }
        onSelected()

        // SFI 15, public application information: issuer (0–7, city code at 2–3), application type
        // (8), version (9), card number (10–19, 20 BCD digits), start date (20–23), expiry (24–27).
        let infoStep = "READ BINARY SFI 15"
        let info = try s.file(.readBinary(sfi: 0x15), step: infoStep, minimum: 28, transmit)
        guard let stored = BCD.digits(info[10..<20]) else {
            throw s.malformed("card number is not BCD: \(Hex.string(info[10..<20]))", step: infoStep)
        }
        guard let key = CardKey(medium: .transitCard, number: stored.dropFirst()) else {
            throw s.malformed("card number \(stored) does not fit a T-Union key", step: infoStep)
        }
        s.key = key
        let from = try date(info[20..<24], field: "start date", step: infoStep, &s)
        let until = try date(info[24..<28], field: "expiry date", step: infoStep, &s)
        let city = BCD.digits(info[2..<4])

        var read = CardRead(
            key: key, application: .tUnion, cardType: .unspecified, balanceFen: nil, validFrom: from,
            validUntil: until, applicationBlocked: blocked)
        // A blocked application is denied on the flag alone: no further APDUs, a faster answer.
        if blocked { return CardDetails(read: read, cityCode: city, storedNumber: stored) }

        // SFI 17, transit information: card type at byte 10.
        let typeFile = try s.file(.readBinary(sfi: 0x17), step: "READ BINARY SFI 17", minimum: 11, transmit)
        read.cardType = CardType(rawValue: typeFile[10]) ?? .unspecified
        read.balanceFen = try balance(&s, transmit)
        return CardDetails(read: read, cityCode: city, storedNumber: stored)
    }

    // MARK: Beijing municipal card

    func readMunicipal(
        _ s: inout Session, onSelected: () -> Void, transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
    ) throws(CardReadError) -> CardDetails {
        let mfStep = "SELECT MF"
        let mf = try s.send(.select(fileID: Self.masterFile), step: mfStep, transmit)
        if mf.status.meansNotPresent {
            throw CardReadError(.unknownApplication, step: mfStep, message: "neither T-Union nor municipal card")
        }
        guard mf.status.isSuccess else { throw s.unexpected(mf.status, step: mfStep) }

        // SFI 04, issue information: serial (0–7, BCD, beginning 1000), enable flag (9, 02 =
        // enabled), validity start (24–27) and end (28–31).
        let issueStep = "READ BINARY SFI 04"
        let issueResponse = try s.send(.readBinary(sfi: 0x04), step: issueStep, transmit)
        if issueResponse.status.meansNotPresent {
            throw CardReadError(.unknownApplication, step: issueStep, message: "card has no municipal issue file")
        }
        guard issueResponse.status.isSuccess else { throw s.unexpected(issueResponse.status, step: issueStep) }
        let issue = issueResponse.data
        guard issue.count >= 32 else {
            throw s.malformed("issue file has \(issue.count) bytes, needs 32", step: issueStep)
        }
        guard let serial = BCD.digits(issue[0..<8]) else {
            throw s.malformed("serial is not BCD: \(Hex.string(issue[0..<8]))", step: issueStep)
        }
        guard serial.hasPrefix("1000") else {
            throw CardReadError(
                .unknownApplication, step: issueStep, message: "serial \(serial) is not a Beijing municipal serial")
        }
        guard let key = CardKey(medium: .municipalCard, number: serial) else {
            throw s.malformed("serial \(serial) does not fit a municipal key", step: issueStep)
        }
        s.key = key
        onSelected()
        let from = try date(issue[24..<28], field: "validity start", step: issueStep, &s)
        let until = try date(issue[28..<32], field: "validity end", step: issueStep, &s)
        var read = CardRead(
            key: key, application: .beijingMunicipal, cardType: .unspecified, validFrom: from, validUntil: until,
            disabled: issue[9] != 0x02)

        // SFI 05: byte 0 A5 marks a card blacklisted by the issuer.
        let flags = try s.file(.readBinary(sfi: 0x05), step: "READ BINARY SFI 05", minimum: 1, transmit)
        read.blacklistedOnCard = flags[0] == 0xA5

        let dfStep = "SELECT DF 1001"
        let df = try s.send(.select(fileID: Self.municipalDF), step: dfStep, transmit)
        switch df.status {
        case .success: read.balanceFen = try balance(&s, transmit)
        case .selectedFileInvalidated: read.applicationBlocked = true
        case let sw: throw s.unexpected(sw, step: dfStep)
        }
        return CardDetails(read: read, cityCode: String(serial.prefix(4)), storedNumber: serial)
    }

    // MARK: Shared

    /// GET BALANCE: 4 bytes big-endian in fen; the top bit is masked (overdraft flag on some issuers).
    func balance(
        _ s: inout Session, _ transmit: (CommandAPDU) throws(CardIOError) -> ResponseAPDU
    ) throws(CardReadError) -> Int32 {
        let step = "GET BALANCE"
        let r = try s.send(.getBalance, step: step, transmit)
        guard r.status.isSuccess else { throw s.unexpected(r.status, step: step) }
        guard r.data.count == 4 else { throw s.malformed("balance has \(r.data.count) bytes, not 4", step: step) }
        let raw = UInt32(r.data[0]) << 24 | UInt32(r.data[1]) << 16 | UInt32(r.data[2]) << 8 | UInt32(r.data[3])
        return Int32(raw & 0x7FFF_FFFF)
    }

    func date(
        _ bytes: ArraySlice<UInt8>, field: String, step: String, _ s: inout Session
    ) throws(CardReadError) -> CalendarDate? {
        switch BCD.date(bytes) {
        case .unset: return nil
        case .date(let d): return d
        case nil: throw s.malformed("\(field) is not a BCD date: \(Hex.string(bytes))", step: step)
        }
    }
}
