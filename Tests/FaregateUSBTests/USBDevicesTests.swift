import FaregateUSB
import Foundation
import XCTest

final class USBDevicesTests: XCTestCase {
    /// The real libusb: a machine without a USB bus (a CI container) answers with a typed error,
    /// a machine with one with its devices, each named as the kernel names it in sysfs.
    func testEnumeratesTheBusOrSaysWhyNot() {
        do {
            let devices = try USBDevices.list()
            for d in devices where !d.ports.isEmpty {
                XCTAssertTrue(
                    FileManager.default.fileExists(atPath: "/sys/bus/usb/devices/\(d.sysfsName)"),
                    "\(d.id) at \(d.sysfsName) is not where the kernel has it")
            }
        } catch {
            XCTAssertTrue(error.description.hasPrefix("libusb_"), error.description)
        }
    }

    func testNamesFollowTheKernelAndTheReaderTable() {
        let acr122 = USBDevice(vendorID: 0x072F, productID: 0x2200, bus: 1, address: 5, ports: [1, 2])
        XCTAssertEqual(acr122.id, "072f:2200")
        XCTAssertEqual(acr122.sysfsName, "1-1.2")
        XCTAssertEqual(USBDevice(vendorID: 0x1D6B, productID: 2, bus: 3, address: 1, ports: []).sysfsName, "usb3")
    }
}
