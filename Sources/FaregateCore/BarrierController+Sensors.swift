/// The barrier's passage rules: what the beams see while a rider walks through (bodies counted
/// against taps, children and their companions, tailgaters and intruders), and the alarm states
/// they raise and end.
extension BarrierController {
    // MARK: Sensors

    mutating func sensor(
        _ zone: SensorZone, _ reading: SensorReading, _ now: UInt64,
        _ a: inout [BarrierAction]
    ) {
        let before = occupancy[zone]
        guard before != reading else { return }
        occupancy[zone] = reading
        let rising = before == .clear
        let falling = reading == .clear
        if let d = direction, falling, zone == .monitoring(d.origin) { lastOriginClear = now }

        switch state {
        case .idle, .validating, .stationClosed:
            guard rising else { return }
            if zone == .buffer {
                let from = GateEnd.allCases.first { occupancy.isOccupied(.monitoring($0)) }
                let permitted = state == .stationClosed || (from.map { directions.permits($0) } ?? true)
                enterAlarm(permitted ? .enteredWithoutTap : .reverseIntrusion, nil, now, &a)
            } else if state != .stationClosed, zone == .monitoring(.unpaid) || zone == .monitoring(.paid) {
                let end: GateEnd = zone == .monitoring(.unpaid) ? .unpaid : .paid
                if !directions.permits(end) { enterAlarm(.reverseIntrusion, nil, now, &a) }
            }
        case .open(let d):
            if rising && (zone == .monitoring(d.origin) || zone == .buffer) {
                credits -= 1
                lastBodyChild = reading == .child
                crossed = zone == .buffer
                a.append(.bodyEntered(d, .authorized))
                transition(.passing(d), deadline: nil)
            } else if rising && zone == .monitoring(d.destination) {
                reverseWhileOpen(d, now, &a)
            }
        case .passing(let d):
            passing(d, zone, before, reading, now, &a)
        case .closing(let d):
            if rising && zone == .buffer {
                // Safety: a body in the buffer while the flaps close reopens them.
                let fromOrigin = occupancy.isOccupied(.monitoring(d.origin))
                transition(.passing(d), deadline: nil)
                crossed = true
                if blockTailgater {
                    // The tailgater already counted and alarmed reached the flaps: let them through.
                    blockTailgater = false
                } else if fromOrigin {
                    a.append(.bodyEntered(d, .tailgater))
                    _ = raise(.tailgating, &a)
                } else {
                    _ = raise(.reverseIntrusion, &a)
                }
            }
        case .alarm:
            if falling { checkAlarmEnd(now, &a) }
        case .freeOpen, .outOfService:
            break
        }
    }

    mutating func passing(
        _ d: PassageDirection, _ zone: SensorZone, _ before: SensorReading,
        _ reading: SensorReading, _ now: UInt64, _ a: inout [BarrierAction]
    ) {
        let origin = SensorZone.monitoring(d.origin)
        if zone == origin && before == .clear {
            let gap = now &- lastOriginClear
            if credits > 0 {
                credits -= 1
                lastBodyChild = reading == .child
                a.append(.bodyEntered(d, .authorized))
            } else if lastBodyChild && reading == .adult && gap <= timings.childCompanionGap {
                lastBodyChild = false
                a.append(.bodyEntered(d, .childCompanion))
            } else if gap < timings.closeTailgatingGap {
                lastBodyChild = false
                a.append(.bodyEntered(d, .tailgater))
                _ = raise(.closeTailgating, &a)
            } else {
                lastBodyChild = false
                a.append(.bodyEntered(d, .tailgater))
                if raise(.tailgating, &a) { blockTailgater = true }
            }
        } else if zone == origin && before == .child && reading == .adult && lastBodyChild && credits == 0 {
            // The adult caught up with the child without a gap: one party on one tap.
            lastBodyChild = false
            a.append(.bodyEntered(d, .childCompanion))
        } else if zone == .buffer && before == .clear {
            crossed = true
        } else if zone == .monitoring(d.destination) && before == .clear && !crossed {
            reverseWhileOpen(d, now, &a)
            return
        }
        let originClear = !occupancy.isOccupied(origin)
        guard !occupancy.isOccupied(.buffer) else { return }
        if crossed && credits == 0 && (originClear || blockTailgater) {
            transition(.closing(d), deadline: now + timings.flapTravel)
        } else if originClear && crossed && credits > 0 {
            crossed = false
            transition(.open(d), deadline: now + timings.unusedOpening)
        } else if originClear && !crossed {
            // The rider stepped back out: give the tap back.
            credits += 1
            transition(.open(d), deadline: now + timings.unusedOpening)
        }
    }

    mutating func reverseWhileOpen(_ d: PassageDirection, _ now: UInt64, _ a: inout [BarrierAction]) {
        if raise(.reverseIntrusion, &a) {
            // Keep the banked taps: the passage reopens for them once the intruder is gone.
            if case .passing = state { credits += 1 }
            enterAlarm(.reverseIntrusion, d, now, &a, alreadyRaised: true)
        }
    }

    // MARK: Alarms

    /// Reports `kind`; true when enforced (alarm sounds), false in shadow enforcement.
    mutating func raise(_ kind: AlarmKind, _ a: inout [BarrierAction]) -> Bool {
        let enforced = enforcement == .enforced
        a.append(.alarmRaised(kind, enforced: enforced))
        if enforced {
            if activeAlarm == nil { a.append(.buzzer(.alarm)) }
            activeAlarm = kind
        }
        return enforced
    }

    mutating func clearAlarm(_ kind: AlarmKind, _ a: inout [BarrierAction]) {
        activeAlarm = nil
        a.append(.alarmCleared(kind))
        a.append(.buzzer(.off))
    }

    mutating func enterAlarm(
        _ kind: AlarmKind, _ d: PassageDirection?, _ now: UInt64,
        _ a: inout [BarrierAction], alreadyRaised: Bool = false
    ) {
        guard alreadyRaised || raise(kind, &a) else { return }
        direction = d
        if d == nil { credits = 0 }
        alarmSince = now
        transition(.alarm(kind), deadline: now + timings.alarmHold)
    }

    mutating func checkAlarmEnd(_ now: UInt64, _ a: inout [BarrierAction]) {
        guard occupancy.passageEmpty else {
            deadline = nil
            return
        }
        if now >= alarmSince + timings.alarmHold {
            exitAlarm(now, &a)
        } else {
            deadline = alarmSince + timings.alarmHold
        }
    }

    mutating func exitAlarm(_ now: UInt64, _ a: inout [BarrierAction]) {
        if let k = activeAlarm { clearAlarm(k, &a) }
        if credits > 0, let d = direction, mode == .normal {
            let c = credits
            openWith(d, openReason, now)
            credits = c
        } else {
            restState(now, &a)
        }
    }
}
