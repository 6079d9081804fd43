/// Why the gate decided what it did. Each reason has a stable code (journalled and uploaded) and
/// a rider-facing message in Chinese and English shown on the gate display.
public enum Reason: UInt16, Sendable, CaseIterable, Codable, CustomStringConvertible {
    // Opening
    case ok = 0
    case okShadow = 1  // shadow mode: the rule would not open, but the barrier follows the old rule
    // Identity and health
    case unboundCard = 10
    case healthYellow = 11
    case healthRed = 12
    case healthUnknown = 13
    case unregisteredTicket = 14
    /// A ride code whose account has not authorised the health-code link (one tap in the app).
    case rideCodeNotAuthorised = 15
    // Medium state
    case unknownCard = 20
    case blacklisted = 21
    case returnedCard = 22
    case expired = 23
    case notYetValid = 24
    case disabled = 25
    case applicationBlocked = 26
    case insufficientBalance = 27
    case ticketSuspended = 28
    case unsupportedMedium = 29
    /// A ride code from an app this era or line does not accept.
    case rideCodeIssuerNotAccepted = 30
    // Ride code v1 (RIDECODE.md's checks 1, 3–8). New codes only: a journal written before them
    // never holds them, and every older code keeps its spelling, so old journals still parse.
    /// Check 1: not a ride code v1 (prefix, Base45, lengths, version, algorithms, trailing bytes).
    case rideCodeMalformed = 31
    /// Check 3: no issuer key of that number, or it is revoked or not valid when the code was made.
    case rideCodeUnknownKey = 32
    /// Checks 4 and 6: the issuer's or the phone's signature does not verify.
    case rideCodeBadSignature = 33
    /// Check 5: the account certificate is outside its validity (the app refreshes it online).
    case rideCodeCertificateExpired = 34
    /// Check 7: the code was made too long ago, or too far in the future.
    case rideCodeExpired = 35
    /// Check 8: this code (or a later one of the account) was already accepted here.
    case rideCodeReused = 36
    // Reading
    case readError = 40
    case cardRemoved = 41
    case tapAgain = 42  // the tap could not be queued (ring full): the rider taps again
    /// Another application held the reader past the gate's budget: the card was never read.
    case readerBusy = 43
    // Gate state
    case staleData = 50
    case gateOutOfService = 51
    case passback = 52
    case noEntryRecord = 53
    /// The station is closed (`closed` mode): every tap is refused, whatever the card.
    case stationClosed = 54
    /// Emergency free-open (staff, fire alarm or power loss): the flaps are held open for everyone;
    /// the tap is not what lets the rider through.
    case emergencyOpen = 55
    // Not a tap
    /// A staff command to the gate (mode, directions, enforcement, alarm reset): the reason of a
    /// `staff_command` journal entry, never of a tap.
    case staffCommand = 60
    /// The lane changed state by itself (I/O board lost or back, fire alarm, power loss): the
    /// reason of a `lane_event` journal entry, never of a tap.
    case laneEvent = 61

    public var description: String { code }

    /// Stable snake_case code, used in journals, JSON and reports.
    public var code: String {
        switch self {
        case .ok: "ok"
        case .okShadow: "ok_shadow"
        case .unboundCard: "unbound_card"
        case .healthYellow: "health_yellow"
        case .healthRed: "health_red"
        case .healthUnknown: "health_unknown"
        case .unregisteredTicket: "unregistered_ticket"
        case .rideCodeNotAuthorised: "ride_code_not_authorised"
        case .unknownCard: "unknown_card"
        case .blacklisted: "blacklisted"
        case .returnedCard: "returned_card"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .disabled: "disabled"
        case .applicationBlocked: "application_blocked"
        case .insufficientBalance: "insufficient_balance"
        case .ticketSuspended: "ticket_suspended"
        case .unsupportedMedium: "unsupported_medium"
        case .rideCodeIssuerNotAccepted: "ride_code_issuer_not_accepted"
        case .rideCodeMalformed: "ride_code_malformed"
        case .rideCodeUnknownKey: "ride_code_unknown_key"
        case .rideCodeBadSignature: "ride_code_bad_signature"
        case .rideCodeCertificateExpired: "ride_code_certificate_expired"
        case .rideCodeExpired: "ride_code_expired"
        case .rideCodeReused: "ride_code_reused"
        case .readError: "read_error"
        case .cardRemoved: "card_removed"
        case .tapAgain: "tap_again"
        case .readerBusy: "reader_busy"
        case .staleData: "stale_data"
        case .gateOutOfService: "gate_out_of_service"
        case .passback: "passback"
        case .noEntryRecord: "no_entry_record"
        case .stationClosed: "station_closed"
        case .emergencyOpen: "emergency_open"
        case .staffCommand: "staff_command"
        case .laneEvent: "lane_event"
        }
    }

    /// The reason of a journalled code (`NamedCase`: a reason's name is its code).
    public init?(code: String) { self.init(name: code) }

    /// Message shown to the rider, in Chinese.
    public var messageZH: String {
        switch self {
        case .ok, .okShadow: "请通行"
        case .unboundCard: "未发现健康码信息，请尽快授权升级"
        case .healthYellow: "健康码异常，请联系工作人员"
        case .healthRed: "健康码异常"
        case .healthUnknown: "未获取到健康状态，请联系工作人员"
        case .unregisteredTicket: "纪念票未登记，请先登记票号"
        case .rideCodeNotAuthorised: "乘车码未关联健康码，请在APP内授权"
        case .unknownCard: "无效卡，请联系工作人员"
        case .blacklisted: "此卡已挂失或列入黑名单"
        case .returnedCard: "此卡已退卡"
        case .expired: "卡已过期"
        case .notYetValid: "卡未到启用日期"
        case .disabled: "卡未启用"
        case .applicationBlocked: "卡应用已锁定"
        case .insufficientBalance: "余额不足，请充值"
        case .ticketSuspended: "此票已停用"
        case .unsupportedMedium: "不支持此票卡"
        case .rideCodeIssuerNotAccepted: "暂不支持此APP乘车码"
        case .rideCodeMalformed: "无法识别二维码，请刷新"
        case .rideCodeUnknownKey: "乘车码无效，请联网刷新"
        case .rideCodeBadSignature: "乘车码无效，请联系工作人员"
        case .rideCodeCertificateExpired: "请联网刷新乘车码"
        case .rideCodeExpired: "二维码已过期，请刷新"
        case .rideCodeReused: "请勿重复使用二维码"
        case .readError: "读卡失败，请重新刷卡"
        case .cardRemoved: "读卡未完成，请重新刷卡"
        case .tapAgain: "请重新刷卡"
        case .readerBusy: "读卡器忙，请重新刷卡"
        case .staleData: "系统数据未更新，请联系工作人员"
        case .gateOutOfService: "暂停服务"
        case .passback: "重复进站"
        case .noEntryRecord: "无进站记录，请联系工作人员"
        case .stationClosed: "本站已关闭"
        case .emergencyOpen: "紧急疏散，闸机已打开"
        case .staffCommand: "工作人员操作"
        case .laneEvent: "通道状态变化"
        }
    }

    /// Message shown to the rider, in English.
    public var messageEN: String {
        switch self {
        case .ok, .okShadow: "Please pass"
        case .unboundCard: "No health code found: please upgrade (bind) your card"
        case .healthYellow: "Health code abnormal: please see staff"
        case .healthRed: "Health code abnormal"
        case .healthUnknown: "Health status unavailable: please see staff"
        case .unregisteredTicket: "Commemorative ticket not registered: register its number first"
        case .rideCodeNotAuthorised: "Ride code not linked to a health code: authorise it in the app"
        case .unknownCard: "Card not valid: please see staff"
        case .blacklisted: "Card reported lost or blacklisted"
        case .returnedCard: "Card has been returned"
        case .expired: "Card expired"
        case .notYetValid: "Card not yet valid"
        case .disabled: "Card not enabled"
        case .applicationBlocked: "Card application blocked"
        case .insufficientBalance: "Insufficient balance: please top up"
        case .ticketSuspended: "Ticket suspended"
        case .unsupportedMedium: "Medium not accepted here"
        case .rideCodeIssuerNotAccepted: "Ride codes of this app are not accepted here"
        case .rideCodeMalformed: "Code not recognised: please refresh"
        case .rideCodeUnknownKey: "Ride code not valid: go online to refresh it"
        case .rideCodeBadSignature: "Ride code not valid: please see staff"
        case .rideCodeCertificateExpired: "Go online to refresh your ride code"
        case .rideCodeExpired: "Code expired: please refresh"
        case .rideCodeReused: "Code already used: please refresh"
        case .readError: "Read failed: please tap again"
        case .cardRemoved: "Card removed too early: please tap again"
        case .tapAgain: "Please tap again"
        case .readerBusy: "Reader busy: please tap again"
        case .staleData: "Gate data out of date: please see staff"
        case .gateOutOfService: "Out of service"
        case .passback: "Already entered"
        case .noEntryRecord: "No entry record: please see staff"
        case .stationClosed: "Station closed"
        case .emergencyOpen: "Emergency: gates open"
        case .staffCommand: "Staff command"
        case .laneEvent: "Lane state change"
        }
    }
}

/// What the gate does with one tap.
public enum Decision: Hashable, Sendable, CustomStringConvertible {
    /// Open the barrier for one passage.
    case open(Reason)
    /// Keep the barrier closed and show the reason to the rider.
    case deny(Reason)
    /// Keep the barrier closed and call staff for a manual check.
    case staff(Reason)

    public var reason: Reason {
        switch self {
        case .open(let r), .deny(let r), .staff(let r): r
        }
    }

    public var outcome: Outcome {
        switch self {
        case .open: .open
        case .deny: .deny
        case .staff: .staff
        }
    }

    public init(outcome: Outcome, reason: Reason) {
        switch outcome {
        case .open: self = .open(reason)
        case .deny: self = .deny(reason)
        case .staff: self = .staff(reason)
        }
    }

    public var description: String { "\(outcome)(\(reason.code))" }

    /// The three kinds of decision, without a reason.
    public enum Outcome: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
        case open = 0
        case deny = 1
        case staff = 2

        public var description: String { name }
    }
}
