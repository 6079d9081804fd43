/// The register map file (`hardware/modbus-8in8out.json`): snake_case keys, decoded through
/// `StrictJSON`, so an unknown or misspelt key is refused with its line and column, and a map that
/// cannot drive a lane (`IOBoardMap.firstProblem`) is refused at the setting that is wrong.
///
/// ```json
/// {"discrete_inputs": {"beams": [{"input": 0, "zone": "buffer", "height": "high"}, …],
///                      "fire_alarm": 6, "power_fail": 7},
///  "coils": {"flap_open_entry": 0, "flap_open_exit": 1, "flap_retract": 2,
///            "unpaid_green_arrow": 4, "unpaid_red_cross": 5, "paid_green_arrow": 6, "paid_red_cross": 7,
///            "buzzer": 8},
///  "heartbeat": {"coil": 3, "interval_ms": 100, "watchdog_ms": 1000}}
/// ```
extension IOBoardMap: Decodable {
    /// Decodes and checks a map file.
    public static func parse(_ bytes: [UInt8]) throws(JSONDecodingError) -> IOBoardMap {
        try StrictJSON.decode(IOBoardMap.self, from: bytes)
    }

    enum Keys: String, CodingKey, CaseIterable {
        case note, discreteInputs = "discrete_inputs", coils, heartbeat
    }
    enum InputKeys: String, CodingKey, CaseIterable {
        case beams, fireAlarm = "fire_alarm", powerFail = "power_fail"
    }
    enum BeamKeys: String, CodingKey, CaseIterable {
        case input, zone, height
    }
    enum CoilKeys: String, CodingKey, CaseIterable {
        case flapOpenEntry = "flap_open_entry", flapOpenExit = "flap_open_exit", flapRetract = "flap_retract"
        case unpaidGreenArrow = "unpaid_green_arrow", unpaidRedCross = "unpaid_red_cross"
        case paidGreenArrow = "paid_green_arrow", paidRedCross = "paid_red_cross", buzzer
    }
    enum HeartbeatKeys: String, CodingKey, CaseIterable {
        case coil, register, intervalMillis = "interval_ms", watchdogMillis = "watchdog_ms"
    }

    public init(from decoder: any Decoder) throws {
        let root = try decoder.container(keyedBy: Keys.self)
        _ = try root.decodeIfPresent(String.self, forKey: .note)
        let inputs = try root.nestedContainer(keyedBy: InputKeys.self, forKey: .discreteInputs)
        var list = try inputs.nestedUnkeyedContainer(forKey: .beams)
        var beams: [Beam] = []
        while !list.isAtEnd {
            let b = try list.nestedContainer(keyedBy: BeamKeys.self)
            beams.append(
                Beam(
                    input: try Self.address(b, .input), zone: try b.decodeName(SensorZone.self, forKey: .zone),
                    height: try b.decodeName(BeamHeight.self, forKey: .height)))
        }
        let coils = try root.nestedContainer(keyedBy: CoilKeys.self, forKey: .coils)
        let hb = try root.nestedContainer(keyedBy: HeartbeatKeys.self, forKey: .heartbeat)
        let heartbeat: Heartbeat
        switch (
            try hb.decodeIfPresent(Int.self, forKey: .coil, in: 0...65535),
            try hb.decodeIfPresent(Int.self, forKey: .register, in: 0...65535)
        ) {
        case (let c?, nil): heartbeat = .coil(UInt16(c))
        case (nil, let r?): heartbeat = .register(UInt16(r))
        case (nil, nil):
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: hb.codingPath,
                    debugDescription: "must name the coil or the holding register the board's watchdog watches"))
        case (_?, _?):
            throw DecodingError.dataCorruptedError(
                forKey: .register, in: hb, debugDescription: "and heartbeat.coil are both set: the watchdog watches one"
            )
        }
        do {
            try self.init(
                beams: beams, fireAlarm: try Self.address(inputs, .fireAlarm),
                powerFail: try Self.address(inputs, .powerFail),
                flapOpenEntry: try Self.address(coils, .flapOpenEntry),
                flapOpenExit: try Self.address(coils, .flapOpenExit),
                flapRetract: try Self.address(coils, .flapRetract),
                unpaidLamps: Lamps(
                    greenArrow: try Self.address(coils, .unpaidGreenArrow),
                    redCross: try Self.address(coils, .unpaidRedCross)),
                paidLamps: Lamps(
                    greenArrow: try Self.address(coils, .paidGreenArrow),
                    redCross: try Self.address(coils, .paidRedCross)),
                buzzer: try coils.decodeIfPresent(Int.self, forKey: .buzzer, in: 0...65535).map { UInt16($0) },
                heartbeat: heartbeat,
                heartbeatIntervalMillis: try hb.decodeIfPresent(Int.self, forKey: .intervalMillis) ?? 100,
                watchdogMillis: try hb.decodeIfPresent(Int.self, forKey: .watchdogMillis) ?? 1000)
        } catch let problem as IOBoardMapProblem {
            throw DecodingError.dataCorrupted(
                .init(codingPath: Self.codingPath(problem.setting), debugDescription: problem.message))
        }
    }

    static func address<K>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> UInt16 {
        UInt16(try c.decode(Int.self, forKey: key, in: 0...65535))
    }

    /// `discrete_inputs.beams[3].input` as coding keys, so the decoder finds the line and column.
    static func codingPath(_ setting: String) -> [any CodingKey] {
        var path: [any CodingKey] = []
        for part in setting.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]"),
                let i = Int(name[name.index(after: open)..<name.index(before: name.endIndex)])
            {
                indices.insert(i, at: 0)
                name = name[..<open]
            }
            path.append(JSONKey(String(name)))
            path.append(contentsOf: indices.map { JSONIndexKey($0) as any CodingKey })
        }
        return path
    }
}

extension SensorZone: NamedCase {
    public var name: String { description }
}
