import FaregateCore
import FaregateSimulation
import FaregateVirtualCard
import Foundation
import Synchronization
import XCTest

/// One virtual card in the field of the vpcd reader, run on its own thread, with the controls the
/// contention tests need: it stays until `leave()`, records every frame vpcd sends, and can hold
/// the card before answering chosen APDUs until the test says `proceed()` (pcscd then waits
/// inside its transmit, so another PC/SC connection can act at an exact point of the read).
final class VirtualCardTap: Sendable {
    private let leaving = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let heldSignal = DispatchSemaphore(value: 0)
    private let goSignal = DispatchSemaphore(value: 0)
    private let log = Mutex<[String]>([])
    private let failure = Mutex<String?>(nil)

    /// - Parameter holdBefore: the card stops before answering the APDU that arrives when this
    ///   many APDUs have been answered in the tap (counted across resets), e.g. `[2]` holds the
    ///   third APDU.
    init(_ compiled: CompiledCard, port: UInt16, faults: [CardFault] = [], holdBefore: Set<Int> = []) {
        var emulator = VirtualCardEmulator(port: port)
        if ProcessInfo.processInfo.environment["FAREGATE_PCSC_DEBUG"] != nil {
            emulator.log = { line in FileHandle.standardError.write(Data(("emulator: " + line + "\n").utf8)) }
        }
        let emu = emulator
        Thread { [self] in
            var card = SimulatedSmartCard(card: compiled, faults: faults)
            var holdsLeft = holdBefore
            do throws(VPCDError) {
                _ = try emu.tap(
                    &card, holdMillis: 20_000, until: { leaving.load(ordering: .acquiring) },
                    observe: { frame, answered in
                        log.withLock { $0.append(Self.describe(frame)) }
                        if case .apdu = frame, holdsLeft.remove(answered) != nil {
                            heldSignal.signal()
                            _ = goSignal.wait(timeout: .now() + 20)
                        }
                    })
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            done.signal()
        }.start()
    }

    static func describe(_ frame: VPCDConnection.Frame) -> String {
        switch frame {
        case .apdu(let bytes): "apdu " + Hex.string(bytes, separator: "")
        case .reset: "reset"
        case .powerOn: "power-on"
        case .powerOff: "power-off"
        case .getATR: "atr"
        case .unknownControl(let c): "control \(c)"
        }
    }

    /// Waits until the card holds an APDU (true) or `seconds` pass (false).
    func waitHeld(seconds: Double = 15) -> Bool { heldSignal.wait(timeout: .now() + seconds) == .success }

    /// Lets a held APDU be answered.
    func proceed() { goSignal.signal() }

    /// Takes the card out of the field and waits for the emulator thread; fails the test on an
    /// emulator error.
    func leave(file: StaticString = #filePath, line: UInt = #line) {
        leaving.store(true, ordering: .releasing)
        goSignal.signal()  // never leave a hold waiting
        XCTAssertEqual(done.wait(timeout: .now() + 25), .success, "emulator thread ended", file: file, line: line)
        if let e = failure.withLock({ $0 }) { XCTFail("emulator: \(e)", file: file, line: line) }
    }

    /// Puts a marker between the frames, to show what happened before and after a test's step.
    func mark(_ text: String) { log.withLock { $0.append(text) } }

    /// Frames from vpcd so far (and markers), ATR polls left out.
    var frames: [String] { log.withLock { $0.filter { $0 != "atr" } } }
}
