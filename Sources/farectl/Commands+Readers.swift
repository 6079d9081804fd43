import FaregatePCSC
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
    var out = ReadersOutput(pcscReaders: [], pcscError: nil, usbReaders: [], table: nil)
    do {
        out.pcscReaders = try PCSCContext().readers()
    } catch {
        out.pcscError = "\(error)"
    }
    // USB devices from sysfs (the kernel's own view of the bus; no libusb needed to list them).
    let table = nfcReaderTable()
    out.table = table?.path
    let root = "/sys/bus/usb/devices"
    let devices = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    for dev in devices.sorted() where !dev.contains(":") {
        func attr(_ name: String) -> String? {
            (try? String(contentsOfFile: "\(root)/\(dev)/\(name)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let vid = attr("idVendor"), let pid = attr("idProduct"),
            let known = table?.rows["\(vid):\(pid)".lowercased()]
        else { continue }
        let driverLink = "\(root)/\(dev):1.0/driver"
        let driver = (try? FileManager.default.destinationOfSymbolicLink(atPath: driverLink))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
        var conflict: String?
        if driver == "pn533_usb" || driver == "port100" {
            conflict =
                "the kernel driver \(driver ?? "") holds this reader, so pcscd cannot. Fix: "
                + "cp hardware/blacklist-pn533.conf /etc/modprobe.d/ && rmmod pn533_usb pn533; then replug the reader "
                + "(or install hardware/99-faregate-nfc-readers.rules to unbind it on plug-in)"
        }
        out.usbReaders.append(
            USBReaderOutput(
                vendorID: vid, productID: pid, name: known.name, busPath: dev, kernelDriver: driver,
                conflict: conflict))
    }
    try report(out, json: json) {
        var lines = ["PC/SC readers:"]
        if let e = out.pcscError { lines.append("  (none: \(e))") }
        lines += out.pcscReaders.map { "  \($0)" }
        if out.pcscReaders.isEmpty && out.pcscError == nil { lines.append("  (none)") }
        lines.append("USB NFC readers (\(out.table ?? "hardware/nfc-readers.tsv not found")):")
        if out.usbReaders.isEmpty { lines.append("  (none)") }
        for u in out.usbReaders {
            lines.append("  \(u.vendorID):\(u.productID) \(u.name) at \(u.busPath), driver \(u.kernelDriver ?? "none")")
            if let c = u.conflict { lines.append("    CONFLICT: \(c)") }
        }
        return lines.joined(separator: "\n")
    }
    return out.usbReaders.contains { $0.conflict != nil } ? 1 : 0
}
