import CModbus
import Glibc

/// How to reach a board: Modbus RTU on a serial line, or Modbus TCP.
public enum ModbusEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Parity: Sendable, Hashable {
        case none, even, odd
        var cValue: CChar {
            switch self {
            case .none: CChar(UInt8(ascii: "N"))
            case .even: CChar(UInt8(ascii: "E"))
            case .odd: CChar(UInt8(ascii: "O"))
            }
        }
    }
    /// A serial device (RS-485 adapter, USB serial, a pseudo-terminal), its line settings and the
    /// board's slave id (1–247).
    case rtu(device: String, baud: Int, parity: Parity, dataBits: Int, stopBits: Int, slave: Int)
    /// A TCP host and port, and the unit id (255 or 1 for most devices; gateways route on it).
    case tcp(host: String, port: Int, unit: Int)

    public var description: String {
        switch self {
        case .rtu(let d, let b, let p, let data, let stop, let s): "rtu \(d) \(b) \(p) \(data)\(stop) slave \(s)"
        case .tcp(let h, let p, let u): "tcp \(h):\(p) unit \(u)"
        }
    }
}

/// One libmodbus context (`modbus_t`): a client of one board, or the server side of the board
/// emulator. Not thread-safe: one thread uses a context. `deinit` closes and frees it.
public final class ModbusContext {
    let ctx: OpaquePointer
    public let endpoint: ModbusEndpoint

    /// Wraps `modbus_new_rtu` / `modbus_new_tcp` and `modbus_set_slave`. Does not connect.
    public init(_ endpoint: ModbusEndpoint) throws(ModbusError) {
        self.endpoint = endpoint
        let made: OpaquePointer?
        let id: Int32
        switch endpoint {
        case .rtu(let device, let baud, let parity, let dataBits, let stopBits, let slave):
            made = modbus_new_rtu(device, Int32(baud), parity.cValue, Int32(dataBits), Int32(stopBits))
            id = Int32(slave)
        case .tcp(let host, let port, let unit):
            made = modbus_new_tcp(host, Int32(port))
            id = Int32(unit)
        }
        guard let made else { throw .last("create a Modbus context for \(endpoint)") }
        ctx = made
        guard modbus_set_slave(ctx, id) == 0 else {
            let e = ModbusError.last("set slave id \(id) on \(endpoint)")
            modbus_free(ctx)
            throw e
        }
    }

    deinit {
        modbus_close(ctx)
        modbus_free(ctx)
    }

    /// Wraps `modbus_connect`: opens and configures the serial device, or connects the socket.
    public func connect() throws(ModbusError) {
        guard modbus_connect(ctx) == 0 else { throw .last("connect to \(endpoint)") }
    }

    /// Wraps `modbus_flush`: discards what the line holds unread (a late answer to a request that
    /// timed out, bytes a previous owner of the serial line left), so the next answer read is the
    /// answer to the next request. Errors are ignored: the next transaction reports the link.
    public func flush() { _ = modbus_flush(ctx) }

    /// Wraps `modbus_close` (a closed context can `connect()` again).
    public func close() { modbus_close(ctx) }

    /// Wraps `modbus_set_response_timeout`: how long a request waits for the answer's first byte.
    public func setResponseTimeout(nanos: UInt64) throws(ModbusError) {
        let us = max(nanos / 1000, 1)
        guard modbus_set_response_timeout(ctx, UInt32(us / 1_000_000), UInt32(us % 1_000_000)) == 0 else {
            throw .last("set the response timeout of \(endpoint)")
        }
    }

    /// Wraps `modbus_read_input_bits` (function code 2): `count` discrete inputs from `address`.
    public func readDiscreteInputs(_ address: UInt16, count: Int) throws(ModbusError) -> [Bool] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = modbus_read_input_bits(ctx, Int32(address), Int32(count), &buffer)
        guard n == count else {
            throw .last("read discrete inputs \(address)+\(count) from \(endpoint)")
        }
        return buffer.map { $0 != 0 }
    }

    /// Wraps `modbus_read_bits` (function code 1): `count` coils from `address`.
    public func readCoils(_ address: UInt16, count: Int) throws(ModbusError) -> [Bool] {
        var buffer = [UInt8](repeating: 0, count: count)
        guard modbus_read_bits(ctx, Int32(address), Int32(count), &buffer) == count else {
            throw .last("read coils \(address)+\(count) from \(endpoint)")
        }
        return buffer.map { $0 != 0 }
    }

    /// Wraps `modbus_write_bit` (function code 5) for one coil, `modbus_write_bits` (15) for more.
    public func writeCoils(_ address: UInt16, _ values: [Bool]) throws(ModbusError) {
        let rc: Int32
        if values.count == 1 {
            rc = modbus_write_bit(ctx, Int32(address), values[0] ? 1 : 0)
        } else {
            let bytes = values.map { UInt8($0 ? 1 : 0) }
            rc = modbus_write_bits(ctx, Int32(address), Int32(values.count), bytes)
        }
        guard rc == Int32(values.count) || (values.count == 1 && rc == 1) else {
            throw .last("write coils \(address)+\(values.count) to \(endpoint)")
        }
    }

    /// Wraps `modbus_read_registers` (function code 3) for one holding register.
    public func readRegister(_ address: UInt16) throws(ModbusError) -> UInt16 {
        var value: UInt16 = 0
        guard modbus_read_registers(ctx, Int32(address), 1, &value) == 1 else {
            throw .last("read holding register \(address) from \(endpoint)")
        }
        return value
    }

    /// Wraps `modbus_write_register` (function code 6).
    public func writeRegister(_ address: UInt16, _ value: UInt16) throws(ModbusError) {
        guard modbus_write_register(ctx, Int32(address), value) == 1 else {
            throw .last("write holding register \(address) to \(endpoint)")
        }
    }

    // MARK: Server side (the board emulator)

    /// Wraps `modbus_set_socket`: the descriptor the context reads and writes (a pty master, an
    /// accepted TCP connection).
    func setSocket(_ fd: Int32) { modbus_set_socket(ctx, fd) }

    /// Wraps `modbus_tcp_listen`: a listening socket on the context's host and port.
    func listen(backlog: Int32) throws(ModbusError) -> Int32 {
        let fd = modbus_tcp_listen(ctx, backlog)
        guard fd >= 0 else { throw .last("listen on \(endpoint)") }
        return fd
    }

    /// Wraps `modbus_tcp_accept`: the next connection on `listening` (which must be readable).
    func accept(_ listening: Int32) throws(ModbusError) -> Int32 {
        var s = listening
        let fd = modbus_tcp_accept(ctx, &s)
        guard fd >= 0 else { throw .last("accept on \(endpoint)") }
        return fd
    }

    /// Wraps `modbus_receive`: one request from the current socket into `buffer` (at least
    /// `MODBUS_MAX_ADU_LENGTH` bytes); 0 for a request to another slave.
    func receive(_ buffer: inout [UInt8]) throws(ModbusError) -> Int {
        let n = modbus_receive(ctx, &buffer)
        guard n >= 0 else { throw .last("receive a request on \(endpoint)") }
        return Int(n)
    }

    /// Wraps `modbus_reply`: answers `request` from `mapping` (or with the exception it calls for).
    func reply(_ request: [UInt8], length: Int, _ mapping: ModbusMapping) throws(ModbusError) {
        guard modbus_reply(ctx, request, Int32(length), mapping.raw) >= 0 else {
            throw .last("reply on \(endpoint)")
        }
    }

    /// Wraps `modbus_get_header_length`: bytes before the function code (RTU 1, TCP 7).
    var headerLength: Int { Int(modbus_get_header_length(ctx)) }

    static var maxADULength: Int { Int(faregate_modbus_max_adu_length()) }
}

/// A libmodbus register mapping (`modbus_mapping_t`, from `modbus_mapping_new`): the emulator's
/// coils, discrete inputs and holding registers, from address 0. Not thread-safe: the emulator
/// holds its lock around every access. `deinit` frees it.
final class ModbusMapping {
    let raw: UnsafeMutablePointer<modbus_mapping_t>
    let coils: Int
    let inputs: Int
    let registers: Int

    /// Wraps `modbus_mapping_new`.
    init(coils: Int, inputs: Int, registers: Int) throws(ModbusError) {
        guard let m = modbus_mapping_new(Int32(coils), Int32(inputs), Int32(registers), 0) else {
            throw .last("allocate a mapping of \(coils) coils, \(inputs) inputs, \(registers) registers")
        }
        raw = m
        self.coils = coils
        self.inputs = inputs
        self.registers = registers
    }

    deinit { modbus_mapping_free(raw) }

    func coil(_ a: UInt16) -> Bool { Int(a) < coils && raw.pointee.tab_bits[Int(a)] != 0 }
    func input(_ a: UInt16) -> Bool { Int(a) < inputs && raw.pointee.tab_input_bits[Int(a)] != 0 }
    func setInput(_ a: UInt16, _ v: Bool) {
        if Int(a) < inputs { raw.pointee.tab_input_bits[Int(a)] = v ? 1 : 0 }
    }
    func register(_ a: UInt16) -> UInt16 { Int(a) < registers ? raw.pointee.tab_registers[Int(a)] : 0 }
}
