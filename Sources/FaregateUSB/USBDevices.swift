import CUSB

/// A libusb return code, with libusb's own name for it.
public struct USBError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var operation: String

    public var description: String {
        "\(operation) failed: \(String(cString: libusb_error_name(code))) (\(code))"
    }
}

/// One device on the USB bus, as libusb enumerates it.
public struct USBDevice: Hashable, Sendable {
    public var vendorID: UInt16
    public var productID: UInt16
    public var bus: UInt8
    public var address: UInt8
    /// Port numbers from the root hub, e.g. [1, 2] for "1-1.2".
    public var ports: [UInt8]

    public init(vendorID: UInt16, productID: UInt16, bus: UInt8, address: UInt8, ports: [UInt8]) {
        self.vendorID = vendorID
        self.productID = productID
        self.bus = bus
        self.address = address
        self.ports = ports
    }

    /// The kernel's name for the device (the directory under /sys/bus/usb/devices), e.g. "1-1.2".
    public var sysfsName: String {
        ports.isEmpty ? "usb\(bus)" : "\(bus)-" + ports.map(String.init).joined(separator: ".")
    }

    /// "072f:2200".
    public var id: String { Self.hex4(vendorID) + ":" + Self.hex4(productID) }

    /// Four lowercase hex digits, as lsusb and the reader table print IDs.
    public static func hex(_ v: UInt16) -> String { hex4(v) }

    static func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}

/// Lists the devices on the USB bus through libusb.
///
/// Wraps `libusb_init`, `libusb_get_device_list`, `libusb_get_device_descriptor`,
/// `libusb_get_bus_number`, `libusb_get_device_address`, `libusb_get_port_numbers`,
/// `libusb_free_device_list` and `libusb_exit`. Needs no permission on the devices themselves
/// (nothing is opened). Thread-safe: each call has its own libusb context.
public enum USBDevices {
    public static func list() throws(USBError) -> [USBDevice] {
        var context: OpaquePointer?
        let rc = libusb_init(&context)
        guard rc == 0 else { throw USBError(code: rc, operation: "libusb_init") }
        defer { libusb_exit(context) }
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context, &list)
        guard count >= 0, let list else {
            throw USBError(code: Int32(truncatingIfNeeded: count), operation: "libusb_get_device_list")
        }
        defer { libusb_free_device_list(list, 1) }
        var out: [USBDevice] = []
        for i in 0..<count {
            guard let device = list[i] else { continue }
            var descriptor = libusb_device_descriptor()
            guard libusb_get_device_descriptor(device, &descriptor) == 0 else { continue }
            var ports = [UInt8](repeating: 0, count: 8)
            let n = libusb_get_port_numbers(device, &ports, Int32(ports.count))
            out.append(
                USBDevice(
                    vendorID: descriptor.idVendor, productID: descriptor.idProduct, bus: libusb_get_bus_number(device),
                    address: libusb_get_device_address(device), ports: n > 0 ? Array(ports[0..<Int(n)]) : []))
        }
        return out
    }
}
