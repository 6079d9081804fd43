import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation

extension FuzzTarget {
    /// Policy files (`PolicyBook.load`, through the strict JSON layer), compiled into an engine.
    static let policy = FuzzTarget("policy", "PolicyBook.load of one policy file") { bytes in
        guard let book = try? PolicyBook.load([(name: "fuzz.json", bytes: bytes)]) else { return }
        _ = try? book.engine(station: nil, line: nil)
        _ = try? book.engine(station: "xidan", line: "1")
    }

    /// The gate configuration (`GateConfig.parse`).
    static let config = FuzzTarget("config", "GateConfig.parse of gate.json") { bytes in
        _ = try? GateConfig.parse(Data(bytes), path: "fuzz.json", baseDirectory: "/var/lib/faregate")
    }

    /// One control-socket request line (`ControlWire.request`), cut at the server's line limit.
    static let control = FuzzTarget("control", "ControlWire.request of one line") { bytes in
        _ = ControlWire.request(bytes.prefix(ControlWire.maxRequestBytes))
    }

    /// Tap scripts for simulated readers (`TapScript(parsing:)`).
    static let tapScript = FuzzTarget("tap-script", "TapScript(parsing:)") { bytes in
        _ = try? TapScript(parsing: String(decoding: bytes, as: UTF8.self))
    }
}
