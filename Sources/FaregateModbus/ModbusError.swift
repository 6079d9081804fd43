import CModbus
import FaregateCore
import Glibc

/// A failed libmodbus call: the errno it left (libmodbus' own numbers above `MODBUS_ENOBASE` for
/// protocol errors and exceptions, system errno values otherwise), what was being done, and
/// libmodbus' message for it.
public struct ModbusError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let timedOut = Code(rawValue: ETIMEDOUT)
        public static let connectionReset = Code(rawValue: ECONNRESET)
        public static let connectionRefused = Code(rawValue: ECONNREFUSED)
        public static let brokenPipe = Code(rawValue: EPIPE)
        public static let badCRC = Code(rawValue: faregate_modbus_ebadcrc())
        public static let badData = Code(rawValue: faregate_modbus_ebaddata())
        public static let badException = Code(rawValue: faregate_modbus_ebadexc())
        public static let unknownException = Code(rawValue: faregate_modbus_eunkexc())
        public static let tooMuchData = Code(rawValue: faregate_modbus_emdata())
        public static let badSlave = Code(rawValue: faregate_modbus_ebadslave())
        public static let illegalDataAddress = Code(rawValue: faregate_modbus_enobase() + 2)

        /// A Modbus exception the board answered with (illegal function, address, value, failure…).
        public var isException: Bool {
            let base = faregate_modbus_enobase()
            return rawValue > base && rawValue <= base + 11
        }
    }

    public var code: Code
    /// What the adapter was doing ("read discrete inputs 0...7 from 127.0.0.1:1502").
    public var operation: String

    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The error of the libmodbus call that just returned -1 (or NULL): its errno.
    static func last(_ operation: @autoclosure () -> String) -> ModbusError {
        ModbusError(code: Code(rawValue: errno), operation: operation())
    }

    public var message: String { String(cString: modbus_strerror(code.rawValue)) }
    public var description: String { "\(operation): \(message)" }

    /// The kind of link failure this is, for the board link's counters and decisions.
    public var failure: IOBoardLink.Failure {
        switch code {
        case .timedOut, Code(rawValue: EAGAIN): return .timeout
        case .badCRC: return .crc
        case .connectionReset, .connectionRefused, .brokenPipe, Code(rawValue: ENOENT), Code(rawValue: EIO),
            Code(rawValue: EBADF), Code(rawValue: ENOTCONN), Code(rawValue: ENXIO), Code(rawValue: ENODEV),
            Code(rawValue: EHOSTUNREACH), Code(rawValue: ENETUNREACH):
            return .disconnect
        default: return code.isException ? .exception : .other
        }
    }
}
