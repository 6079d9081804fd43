import FaregatePCSC
import FaregateUSB
import Foundation

/// One USB device that the table in hardware/nfc-readers.tsv knows as an NFC reader.
struct USBReaderOutput: Encodable {
    var vendorID: String
    var productID: String
    var name: String
    var busPath: String
    /// Kernel driver bound to its interface 0, if any ("pn533_usb" means pcscd cannot use it).
    var kernelDriver: String?
    var conflict: String?
}

struct ReadersOutput: Encodable {
    var pcscReaders: [String]
    var pcscError: String?
    var usbReaders: [USBReaderOutput]
    var usbError: String?
    var table: String?
}

/// Finds hardware/nfc-readers.tsv: FAREGATE_HARDWARE_DIR, then ./hardware, then next to the binary's package.
func nfcReaderTable() -> (path: String, rows: [String: (name: String, note: String)])? {
    var dirs: [String] = []
    if let d = ProcessInfo.processInfo.environment["FAREGATE_HARDWARE_DIR"] { dirs.append(d) }
    dirs.append(FileManager.default.currentDirectoryPath + "/hardware")
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    dirs.append(exe.deletingLastPathComponent().appendingPathComponent("../../../hardware").standardized.path)
    dirs.append("/usr/share/faregate/hardware")
    for d in dirs {
        let path = d + "/nfc-readers.tsv"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
        var rows: [String: (String, String)] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3 else { continue }
            rows[(f[0] + ":" + f[1]).lowercased()] = (f[2], f.count > 3 ? f[3] : "")
        }
        return (path, rows)
    }
    return nil
}

func listReaders(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    try args.finish()
    var out = ReadersOutput(pcscReaders: [], pcscError: nil, usbReaders: [], usbError: nil, table: nil)
    do {
        out.pcscReaders = try pcscReaders(withinMillis: pcscdAnswerMillis)
    } catch {
        out.pcscError = error.description
    }
    // USB devices through libusb; the kernel driver bound to each (the pn533 conflict) from sysfs,
    // which names devices the way `USBDevice.sysfsName` does.
    let table = nfcReaderTable()
    out.table = table?.path
    let devices: [USBDevice]
    do { devices = try USBDevices.list() } catch {
        devices = []
        out.usbError = error.description
    }
    for d in devices {
        guard let known = table?.rows[d.id] else { continue }
        let driverLink = "/sys/bus/usb/devices/\(d.sysfsName):1.0/driver"
        let driver = (try? FileManager.default.destinationOfSymbolicLink(atPath: driverLink))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
        var conflict: String?
        if driver == "pn533_usb" || driver == "port100" {
            conflict =
                "the kernel driver \(driver ?? "") holds this reader, so pcscd cannot. Fix: "
                + "cp hardware/blacklist-faregate-nfc.conf /etc/modprobe.d/ && rmmod pn533_usb pn533; then replug the reader "
                + "(or install hardware/99-faregate-nfc-readers.rules to unbind it on plug-in)"
        }
        out.usbReaders.append(
            USBReaderOutput(
                vendorID: USBDevice.hex(d.vendorID), productID: USBDevice.hex(d.productID), name: known.name,
                busPath: d.sysfsName, kernelDriver: driver, conflict: conflict))
    }
    try report(out, json: json) {
        var lines = ["PC/SC readers:"]
        if let e = out.pcscError { lines.append("  (none: \(e))") }
        lines += out.pcscReaders.map { "  \($0)" }
        if out.pcscReaders.isEmpty && out.pcscError == nil { lines.append("  (none)") }
        lines.append("USB NFC readers (\(out.table ?? "hardware/nfc-readers.tsv not found")):")
        if let e = out.usbError { lines.append("  (cannot list the USB bus: \(e))") }
        if out.usbReaders.isEmpty { lines.append("  (none)") }
        for u in out.usbReaders {
            lines.append("  \(u.vendorID):\(u.productID) \(u.name) at \(u.busPath), driver \(u.kernelDriver ?? "none")")
            if let c = u.conflict { lines.append("    CONFLICT: \(c)") }
        }
        return lines.joined(separator: "\n")
    }
    return out.usbReaders.contains { $0.conflict != nil } ? 1 : 0
}
