import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// A reader unplugged and plugged back while pcscd keeps running.
///
/// Not reproducible on this stack without restarting pcscd; the evidence (Debian bookworm,
/// pcsc-lite 1.9.9, vsmartcard-vpcd 3.3, this Firecracker VM):
///
/// - vpcd is a reader.conf ("serial") reader. pcsc-lite adds and removes such readers only at
///   start, in `RFReCheckReaderConf()`, which `pcscd --hotplug` (SIGUSR1) reaches through
///   `HPReCheckSerialReaders()`. Debian builds pcscd with libudev (`strings /usr/sbin/pcscd`:
///   "libudev serial usb … configdir=/etc/reader.conf.d"), and hotplug_libudev.c's
///   `HPReCheckSerialReaders()` does nothing. Tried: pcscd started with `-c DIR` (our own
///   reader.conf.d), a second vpcd file (CHANNELID 0x8C7D) added, `kill -USR1`: pcscd's
///   `--debug` log shows `signal_thread() Received signal: 10` and nothing else, and
///   `SCardListReaders` still lists only "Virtual PCD 00 00" and "Virtual PCD 00 01"; removing
///   a file then signalling removes nothing either.
/// - vpcd never reports its reader as failing: `IFDHICCPresence` answers "no card" when no
///   virtual card is connected (`vicc_present` returns 0 or 1), so pcscd's event handler never
///   sees a communication error for it, and even that would only mark the reader
///   `SCARD_UNKNOWN`, not remove it (`RFRemoveReader` is called only by USB hotplug, the
///   reader.conf recheck above, and shutdown).
/// - USB hotplug (what a real ACR122U unplug is) needs a USB device: this VM has no USB bus
///   (`/sys/bus/usb` absent), no configfs and no loadable modules (no `/proc/modules`,
///   `/lib/modules`), so neither usbip's vhci_hcd nor dummy_hcd + a CCID gadget can make one.
///
/// So the reader-lost path is proven through pcscd restarts (`PCSCIntegrationTests
/// .testSurvivesPCSCDRestart`: `.readerLost` once, `.readerRestored`, taps again), and the
/// `\\?PnP?\Notification` wait itself is exercised here on the real pcscd: a reader that is not
/// there is reported lost once, then the thread sleeps in the PnP wait (no polling, no phantom
/// taps from other readers' cards) until `SCardCancel` wakes it.
final class PCSCReaderHotplugTests: XCTestCase {
    var port: UInt16 = 0

    override func setUpWithError() throws {
        port = try vpcdPortOrSkip()
    }

    func testAbsentReaderIsLostOnceThenWaitsOnPlugAndPlayUntilCancelled() throws {
        let reader = PCSCCardReader(
            configuration: .init(readerName: "Faregate Hotplug Reader", index: 2), clock: SystemClock(),
            log: { line in FileHandle.standardError.write(Data((line + "\n").utf8)) })
        let h = ReaderHarness(reader: reader)
        guard case .readerLost(let why) = h.next(seconds: 15) else { return XCTFail("expected readerLost first") }
        XCTAssertTrue(why.contains("Faregate Hotplug Reader"), why)
        XCTAssertTrue(why.contains("Virtual PCD 00 00"), "names the readers pcscd has: \(why)")

        // A card on another reader changes that reader's state, not the PnP pseudo-reader's:
        // the waiting thread neither taps nor reports the loss again.
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("seeds/cards/tunion-normal.json")
        let card = VirtualCardTap(try CardProfile.load(path: seeds.path).1, port: port)
        XCTAssertNil(h.next(seconds: 1.5), "no phantom tap, no repeated loss")
        card.leave()
        XCTAssertTrue(h.stop(), "SCardCancel wakes the PnP wait")
        usleep(1_000_000)  // pcscd's presence poll: the next test's card must be seen as new
    }
}
