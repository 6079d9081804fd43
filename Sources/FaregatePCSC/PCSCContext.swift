import CPCSC
import FaregateCore

#if canImport(Glibc)
    import Glibc
#endif

/// A PC/SC resource-manager context (`SCardEstablishContext` / `SCardReleaseContext`).
///
/// Thread-safety: pcsc-lite allows `cancel()` (`SCardCancel`) from any thread while another
/// thread blocks in `waitForChange`; everything else is used by one thread at a time.
/// `@unchecked Sendable` for that reason: the handle is immutable after init, and only
/// `SCardCancel` is called concurrently, which the library supports.
public final class PCSCContext: @unchecked Sendable {
    let handle: SCARDCONTEXT
    private var released = false

    /// Wraps `SCardEstablishContext(SCARD_SCOPE_SYSTEM)`.
    public init() throws(PCSCError) {
        var h: SCARDCONTEXT = 0
        try PCSCStatus.check(SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &h), "SCardEstablishContext")
        handle = h
    }

    deinit { if !released { _ = SCardReleaseContext(handle) } }

    /// Wraps `SCardReleaseContext`, for callers who care about the error.
    public func close() throws(PCSCError) {
        guard !released else { return }
        released = true
        try PCSCStatus.check(SCardReleaseContext(handle), "SCardReleaseContext")
    }

    /// Wraps `SCardCancel`: makes a blocked `waitForChange` on this context return `.cancelled`.
    public func cancel() { _ = SCardCancel(handle) }

    /// Wraps `SCardListReaders`: the reader names; empty when there are none.
    public func readers() throws(PCSCError) -> [String] {
        var size: DWORD = 0
        let rc = PCSCStatus(SCardListReaders(handle, nil, nil, &size))
        if rc == .noReadersAvailable { return [] }
        if rc != .success { throw PCSCError(status: rc, call: "SCardListReaders") }
        var buffer = [CChar](repeating: 0, count: Int(size) + 1)
        let rc2 = PCSCStatus(SCardListReaders(handle, nil, &buffer, &size))
        if rc2 == .noReadersAvailable { return [] }
        if rc2 != .success { throw PCSCError(status: rc2, call: "SCardListReaders") }
        // A multi-string: names separated by NUL, ended by an empty name.
        var names: [String] = []
        var current: [UInt8] = []
        for c in buffer.prefix(Int(size)) {
            if c == 0 {
                if current.isEmpty { break }
                names.append(String(decoding: current, as: UTF8.self))
                current.removeAll()
            } else {
                current.append(UInt8(bitPattern: c))
            }
        }
        return names
    }

    /// One reader's state as `SCardGetStatusChange` reports it.
    public struct ReaderState: Hashable, Sendable {
        public var reader: String
        /// `dwCurrentState` to pass in: what the caller believes.
        public var known: UInt32
        /// `dwEventState` returned: what is.
        public var event: UInt32
        public var atr: [UInt8]

        public init(reader: String, known: UInt32) {
            self.reader = reader
            self.known = known
            self.event = 0
            self.atr = []
        }
    }

    /// The PnP pseudo-reader: its state changes when a reader is added or removed.
    public static let plugAndPlayReader = "\\\\?PnP?\\Notification"

    /// Wraps `SCardGetStatusChange`: blocks until some reader's state differs from `known`,
    /// `timeoutMillis` passes (nil: forever), or `cancel()`. Updates `event` and `atr`.
    public func waitForChange(_ states: inout [ReaderState], timeoutMillis: UInt32?) throws(PCSCError) {
        // The C array holds pointers into these C strings; both live until the call returns.
        let names = states.map { strdup($0.reader) }
        defer { names.forEach { free($0) } }
        var c = [SCARD_READERSTATE](repeating: SCARD_READERSTATE(), count: states.count)
        for i in states.indices {
            c[i].szReader = UnsafePointer(names[i])
            c[i].dwCurrentState = DWORD(states[i].known)
        }
        let rc = SCardGetStatusChange(handle, DWORD(timeoutMillis ?? 0xFFFF_FFFF), &c, DWORD(c.count))
        try PCSCStatus.check(rc, "SCardGetStatusChange")
        for i in states.indices {
            states[i].event = UInt32(truncatingIfNeeded: c[i].dwEventState)
            let count = min(Int(c[i].cbAtr), 33)
            states[i].atr = withUnsafeBytes(of: c[i].rgbAtr) { Array($0.prefix(count)) }
        }
    }
}

/// Reader state bits (`SCARD_STATE_*`), named for this module's readers.
enum ReaderStateBits {
    static let unaware: UInt32 = 0x0000
    static let ignore: UInt32 = 0x0001
    static let changed: UInt32 = 0x0002
    static let unknown: UInt32 = 0x0004
    static let unavailable: UInt32 = 0x0008
    static let empty: UInt32 = 0x0010
    static let present: UInt32 = 0x0020
    /// Another application holds the card with `SCARD_SHARE_EXCLUSIVE`.
    static let exclusive: UInt32 = 0x0080
    static let inUse: UInt32 = 0x0100
    static let mute: UInt32 = 0x0200
}

/// A connection to the card in one reader (`SCardConnect` / `SCardDisconnect`).
///
/// Used by one thread. `deinit` disconnects leaving the card as it is.
public final class PCSCCard {
    /// How a connection shares the card with other applications (`SCARD_SHARE_*`).
    public enum ShareMode: Sendable {
        /// Others may connect too (what the gate uses).
        case shared
        /// No one else may connect until this connection is closed (bench tools, misbehaving
        /// processes: the gate then gets `sharingViolation`).
        case exclusive

        var raw: DWORD { self == .shared ? DWORD(SCARD_SHARE_SHARED) : DWORD(SCARD_SHARE_EXCLUSIVE) }
    }

    /// What happens to the card when a connection or transaction ends (`SCARD_*_CARD`).
    public enum Disposition: Sendable {
        case leave, reset, unpower

        var raw: DWORD {
            switch self {
            case .leave: DWORD(SCARD_LEAVE_CARD)
            case .reset: DWORD(SCARD_RESET_CARD)
            case .unpower: DWORD(SCARD_UNPOWER_CARD)
            }
        }
    }

    let handle: SCARDHANDLE
    public private(set) var protocolT1: Bool
    private var disconnected = false

    /// Wraps `SCardConnect(SHARED, T0|T1)`.
    public convenience init(context: PCSCContext, reader: String) throws(PCSCError) {
        try self.init(context: context, reader: reader, mode: .shared)
    }

    /// Wraps `SCardConnect(mode, T0|T1)`.
    public init(context: PCSCContext, reader: String, mode: ShareMode) throws(PCSCError) {
        var h: SCARDHANDLE = 0
        var proto: DWORD = 0
        try PCSCStatus.check(
            SCardConnect(context.handle, reader, mode.raw, DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1), &h, &proto),
            "SCardConnect")
        handle = h
        protocolT1 = proto == DWORD(SCARD_PROTOCOL_T1)
    }

    deinit { if !disconnected { _ = SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD)) } }

    /// Wraps `SCardDisconnect(SCARD_LEAVE_CARD)`.
    public func close() throws(PCSCError) {
        try close(disposition: .leave)
    }

    /// Wraps `SCardDisconnect(disposition)`.
    public func close(disposition: Disposition) throws(PCSCError) {
        guard !disconnected else { return }
        disconnected = true
        try PCSCStatus.check(SCardDisconnect(handle, disposition.raw), "SCardDisconnect")
    }

    /// Wraps `SCardReconnect(SHARED, T0|T1, SCARD_LEAVE_CARD)`: after a `resetCard` return.
    public func reconnect() throws(PCSCError) {
        try reconnect(mode: .shared, initialization: .leave)
    }

    /// Wraps `SCardReconnect(mode, T0|T1, initialization)`; `.reset` warm-resets the card, and
    /// every other connection to it then gets `resetCard` on its next call.
    public func reconnect(mode: ShareMode, initialization: Disposition) throws(PCSCError) {
        var proto: DWORD = 0
        try PCSCStatus.check(
            SCardReconnect(handle, mode.raw, DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1), initialization.raw, &proto),
            "SCardReconnect")
        protocolT1 = proto == DWORD(SCARD_PROTOCOL_T1)
    }

    /// Wraps `SCardBeginTransaction`: pcscd refuses other connections' commands with
    /// `sharingViolation` until `endTransaction`; libpcsclite resends a refused `SCardTransmit`
    /// itself, so another application's transmit waits rather than fails (pcsc-lite 1.9.9).
    public func beginTransaction() throws(PCSCError) {
        try PCSCStatus.check(SCardBeginTransaction(handle), "SCardBeginTransaction")
    }

    /// Wraps `SCardEndTransaction(disposition)`.
    public func endTransaction(disposition: Disposition = .leave) throws(PCSCError) {
        try PCSCStatus.check(SCardEndTransaction(handle, disposition.raw), "SCardEndTransaction")
    }

    /// Wraps `SCardTransmit`: raw command bytes in, raw response bytes out.
    public func transmit(_ command: [UInt8]) throws(PCSCError) -> [UInt8] {
        var pci = SCARD_IO_REQUEST(
            dwProtocol: DWORD(protocolT1 ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0),
            cbPciLength: DWORD(MemoryLayout<SCARD_IO_REQUEST>.size))
        var response = [UInt8](repeating: 0, count: 258 + 16)
        var length = DWORD(response.count)
        let rc = SCardTransmit(handle, &pci, command, DWORD(command.count), nil, &response, &length)
        try PCSCStatus.check(rc, "SCardTransmit")
        return Array(response.prefix(Int(length)))
    }

    /// An APDU exchange with T=0 status handling (61xx → GET RESPONSE, 6Cxx → resend with Le).
    public func exchange(_ command: CommandAPDU) throws(PCSCError) -> [UInt8] {
        var raw = try transmit(command.bytes)
        var data: [UInt8] = []
        var rounds = 0
        while raw.count >= 2, rounds < 16 {
            rounds += 1
            let sw1 = raw[raw.count - 2], sw2 = raw[raw.count - 1]
            if sw1 == 0x6C {
                var again = command
                again.le = sw2 == 0 ? 256 : Int(sw2)
                raw = try transmit(again.bytes)
            } else if sw1 == 0x61 {
                data += raw.dropLast(2)
                raw = try transmit([0x00, 0xC0, 0x00, 0x00, sw2])
            } else {
                break
            }
        }
        return data + raw
    }
}
