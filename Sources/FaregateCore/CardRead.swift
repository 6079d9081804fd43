/// The card application a medium was read through.
public enum CardApplication: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// T-Union (JT/T 978) transit application, AID A000000632010105.
    case tUnion = 1
    /// Beijing municipal (non-interconnect) card: MF files and DF 1001.
    case beijingMunicipal = 2
    /// QR ride code read by the code scanner.
    case rideCode = 3
    /// Contactless ticket token (single-journey, welfare, commemorative).
    case ticketToken = 4

    public var description: String {
        switch self {
        case .tUnion: "t-union"
        case .beijingMunicipal: "beijing-municipal"
        case .rideCode: "ride-code"
        case .ticketToken: "ticket-token"
        }
    }
}

/// Card type from the card's own files (T-Union SFI 0x17 byte 10).
public enum CardType: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case unspecified = 0
    case normal = 1
    case student = 2
    case senior = 3
    case test = 4
    case military = 5

    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .normal: "normal"
        case .student: "student"
        case .senior: "senior"
        case .test: "test"
        case .military: "military"
        }
    }
}

/// A calendar date (proleptic Gregorian), as cards store validity dates (BCD YYYYMMDD).
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: UInt16
    public var month: UInt8
    public var day: UInt8

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= CalendarDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.year = UInt16(year)
        self.month = UInt8(month)
        self.day = UInt8(day)
    }

    /// A placeholder with all fields zero (not a valid date), for storage that marks the date
    /// absent elsewhere (`Tap`).
    @inlinable static var zero: CalendarDate { CalendarDate(unchecked: 0, 0, 0) }

    @usableFromInline init(unchecked year: UInt16, _ month: UInt8, _ day: UInt8) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The civil date of `days` since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    public init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        year = UInt16(clamping: y)
        month = UInt8(m)
        day = UInt8(d)
    }

    /// The date at `wallMillis` (Unix epoch milliseconds) in a zone `utcOffsetSeconds` east of UTC.
    public init(wallMillis: Int64, utcOffsetSeconds: Int = 8 * 3600) {
        let seconds = wallMillis / 1000 + Int64(utcOffsetSeconds)
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        self.init(daysSinceEpoch: Int(days))
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int {
        let y = Int(year) - (month <= 2 ? 1 : 0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Parses `YYYYMMDD` or `YYYY-MM-DD`.
    public init?(_ text: some StringProtocol) {
        let digits = String(text.filter { $0 != "-" })
        guard digits.count == 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let v = Int(digits)
        else { return nil }
        self.init(year: v / 10000, month: v / 100 % 100, day: v % 100)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public static func < (a: CalendarDate, b: CalendarDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    public var description: String {
        let y = String(year), m = String(month), d = String(day)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count < 2 ? "0" : "") + m + "-"
            + (d.count < 2 ? "0" : "") + d
    }
}

/// What reading a medium yielded: its key and what the medium itself says about it.
///
/// A plain value type with no references, so it can be stored inline in the tap ring.
public struct CardRead: Hashable, Sendable {
    public var key: CardKey
    public var application: CardApplication
    public var cardType: CardType
    /// Stored value in fen, for media that carry a purse.
    public var balanceFen: Int32?
    public var validFrom: CalendarDate?
    public var validUntil: CalendarDate?
    /// The application answered SELECT with 6283 (selected file invalidated: blocked).
    public var applicationBlocked: Bool
    /// The card's own enable flag says it was never enabled (municipal card SFI 0x04 byte 9 ≠ 02).
    public var disabled: Bool
    /// The card's own blacklist flag is set (municipal card SFI 0x05 byte 0 = A5).
    public var blacklistedOnCard: Bool

    public init(
        key: CardKey, application: CardApplication, cardType: CardType = .normal, balanceFen: Int32? = nil,
        validFrom: CalendarDate? = nil, validUntil: CalendarDate? = nil, applicationBlocked: Bool = false,
        disabled: Bool = false, blacklistedOnCard: Bool = false
    ) {
        self.key = key
        self.application = application
        self.cardType = cardType
        self.balanceFen = balanceFen
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.applicationBlocked = applicationBlocked
        self.disabled = disabled
        self.blacklistedOnCard = blacklistedOnCard
    }
}

/// Why a read did not produce a `CardRead`.
public enum ReadFailure: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// The card left the field before the read finished.
    case cardRemoved = 1
    /// A response was malformed, truncated or had an unexpected status word.
    case malformedResponse = 2
    /// The medium carries no application this gate knows.
    case unknownApplication = 3
    /// The reader or its driver failed during the exchange.
    case transmitFailed = 4
    /// The card did not answer in time.
    case timeout = 5
    /// Another application held the reader (an exclusive connection or a transaction) for longer
    /// than the gate waits: the card was never read.
    case readerBusy = 6

    public var description: String {
        switch self {
        case .cardRemoved: "card_removed"
        case .malformedResponse: "malformed_response"
        case .unknownApplication: "unknown_application"
        case .transmitFailed: "transmit_failed"
        case .timeout: "timeout"
        case .readerBusy: "reader_busy"
        }
    }
}

/// One presentation of a medium at a reader, as it travels from a reader thread to the decision
/// loop. Stored inline in the ring: no references, no allocation.
///
/// Laid out to fill exactly one 64-byte cache line (`MemoryLayout<Tap>.stride == 64`; the SPSC
/// and Mutex rings line-align their slots, while `BoundedRing`'s cells add an 8-byte sequence
/// number): handing a tap from a reader's core to the decision thread's moves one line, not the
/// two that a 72-byte tap straddles (BENCHMARKS.md, ring rows by element size).
/// `result` is therefore stored flattened — key, the read's fields, presence bits — and rebuilt
/// on access. Every field keeps its full value; nothing is rounded or clamped.
public struct Tap: Hashable, Sendable {
    public enum Result: Hashable, Sendable {
        case card(CardRead)
        case failed(ReadFailure, CardKey?)
    }

    /// Monotonic nanoseconds: the reader reported the card present.
    public var detectedAt: UInt64
    /// Monotonic nanoseconds: the card application was selected (equal to `detectedAt` when the
    /// medium has no application selection, e.g. a QR code).
    public var selectedAt: UInt64
    /// Monotonic nanoseconds: the read finished (successfully or not).
    public var readAt: UInt64
    /// Monotonic nanoseconds: the tap was pushed into the ring.
    public var enqueuedAt: UInt64

    // `result`, flattened. Absent parts are stored as zero with their presence bit clear, so the
    // synthesised `==` and `hash` on these fields agree with equality of `result`.
    @usableFromInline var key: UInt64
    @usableFromInline var balanceFen: Int32
    @usableFromInline var validFrom: CalendarDate
    @usableFromInline var validUntil: CalendarDate
    /// Index of the reader within its gate.
    public var reader: UInt16
    /// `CardApplication.rawValue` for a card, 0 for a failed read.
    @usableFromInline var application: UInt8
    /// `CardType.rawValue` for a card, `ReadFailure.rawValue` for a failed read.
    @usableFromInline var kind: UInt8
    @usableFromInline var flags: Flags

    @usableFromInline struct Flags: OptionSet, Hashable, Sendable {
        @usableFromInline let rawValue: UInt8
        @inlinable init(rawValue: UInt8) { self.rawValue = rawValue }
        @inlinable static var hasKey: Flags { Flags(rawValue: 1 << 0) }
        @inlinable static var hasBalance: Flags { Flags(rawValue: 1 << 1) }
        @inlinable static var hasValidFrom: Flags { Flags(rawValue: 1 << 2) }
        @inlinable static var hasValidUntil: Flags { Flags(rawValue: 1 << 3) }
        @inlinable static var applicationBlocked: Flags { Flags(rawValue: 1 << 4) }
        @inlinable static var disabled: Flags { Flags(rawValue: 1 << 5) }
        @inlinable static var blacklistedOnCard: Flags { Flags(rawValue: 1 << 6) }
    }

    // Inlinable, like the ring's push: a reader thread in another module then builds the tap in
    // place instead of calling out and copying a returned 64-byte value.
    @inlinable public init(
        reader: UInt16, result: Result, detectedAt: UInt64, selectedAt: UInt64? = nil, readAt: UInt64,
        enqueuedAt: UInt64 = 0
    ) {
        self.reader = reader
        self.detectedAt = detectedAt
        self.selectedAt = selectedAt ?? detectedAt
        self.readAt = readAt
        self.enqueuedAt = enqueuedAt
        key = 0
        balanceFen = 0
        validFrom = .zero
        validUntil = .zero
        application = 0
        kind = 0
        flags = []
        self.result = result
    }

    @inlinable public var result: Result {
        get {
            guard application != 0 else {
                // Stored only from a `ReadFailure`; the fallback cannot be reached.
                let failure = ReadFailure(rawValue: kind) ?? .malformedResponse
                return .failed(failure, flags.contains(.hasKey) ? CardKey(rawValue: key) : nil)
            }
            return .card(
                CardRead(
                    key: CardKey(rawValue: key), application: CardApplication(rawValue: application) ?? .tUnion,
                    cardType: CardType(rawValue: kind) ?? .unspecified,
                    balanceFen: flags.contains(.hasBalance) ? balanceFen : nil,
                    validFrom: flags.contains(.hasValidFrom) ? validFrom : nil,
                    validUntil: flags.contains(.hasValidUntil) ? validUntil : nil,
                    applicationBlocked: flags.contains(.applicationBlocked), disabled: flags.contains(.disabled),
                    blacklistedOnCard: flags.contains(.blacklistedOnCard)))
        }
        set {
            switch newValue {
            case .card(let read):
                var f: Flags = [.hasKey]
                if read.balanceFen != nil { f.insert(.hasBalance) }
                if read.validFrom != nil { f.insert(.hasValidFrom) }
                if read.validUntil != nil { f.insert(.hasValidUntil) }
                if read.applicationBlocked { f.insert(.applicationBlocked) }
                if read.disabled { f.insert(.disabled) }
                if read.blacklistedOnCard { f.insert(.blacklistedOnCard) }
                key = read.key.rawValue
                balanceFen = read.balanceFen ?? 0
                validFrom = read.validFrom ?? .zero
                validUntil = read.validUntil ?? .zero
                application = read.application.rawValue
                kind = read.cardType.rawValue
                flags = f
            case .failed(let failure, let k):
                key = k?.rawValue ?? 0
                balanceFen = 0
                validFrom = .zero
                validUntil = .zero
                application = 0
                kind = failure.rawValue
                flags = k == nil ? [] : [.hasKey]
            }
        }
    }
}
