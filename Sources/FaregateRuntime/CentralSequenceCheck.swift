import FaregateCore

/// At start, central's highest record for the gate (issue 16.6): a gate whose local state was
/// lost (no high-water mark survived) must not number its records from 1 again.
///
/// The question runs on a thread of its own and is waited for at most `within`: a dead or
/// locked central delays the start by that bound at most, and only when the local mark cannot be
/// trusted (`FileJournal.highWaterCreated`); otherwise the daemon serves at once and the answer,
/// when it comes, is only checked (a central ahead of a surviving mark means someone else wrote
/// this gate's sequences: logged as an error; central flags the conflicting records).
public enum CentralSequenceCheck {
    public enum Outcome: Equatable, Sendable {
        /// Central answered in time; the journal numbers after `highest` at least.
        case answered(highest: UInt64)
        /// No answer within the bound (or an error): numbering follows the local mark.
        case noAnswer(String)
    }

    /// Asks central; when the local mark was just created, waits up to `within` and raises the
    /// journal's floor to the answer. Call before the runtime starts (the journal's writer
    /// thread is the caller's then).
    @discardableResult
    public static func run(
        gateID: String, journal: FileJournal, within: Duration,
        openStore: @escaping @Sendable () throws(CentralStoreError) -> any CentralStore
    ) -> Outcome {
        let answer = Locked<Result<UInt64, CentralStoreError>?>(nil)
        let localMark = journal.lastSequence
        let mustWait = journal.highWaterCreated
        let thread = WorkerThread(name: "faregate-central-seq") {
            let result: Result<UInt64, CentralStoreError>
            do throws(CentralStoreError) {
                let store = try openStore()
                result = .success(try store.highestSequence(gate: gateID))
            } catch {
                result = .failure(error)
            }
            answer.withLock { $0 = result }
            if !mustWait, case .success(let highest) = result, highest > localMark {
                Log.error(
                    "gate \(gateID): central holds sequence \(highest), past this gate's high-water mark \(localMark); another writer used this gate's sequences (conflicting records are flagged centrally)"
                )
            }
        }
        guard mustWait else { return .noAnswer("not waited for: the local high-water mark survived") }
        _ = thread.join(timeout: within)
        switch answer.withLock({ $0 }) {
        case .none:
            Log.warning(
                "gate \(gateID): no high-water mark survived and central did not answer within \(within); numbering after the journal's \(localMark)"
            )
            return .noAnswer("central did not answer within \(within)")
        case .failure(let e)?:
            Log.warning(
                "gate \(gateID): no high-water mark survived and central cannot say its highest record (\(e)); numbering after the journal's \(localMark)"
            )
            return .noAnswer(e.description)
        case .success(let highest)?:
            do { try journal.raiseFloor(to: highest) } catch {
                Log.error("gate \(gateID): cannot raise the journal's floor to central's \(highest): \(error)")
                return .noAnswer(error.description)
            }
            if highest > localMark {
                Log.warning(
                    "gate \(gateID): central holds records up to sequence \(highest), past the local journal's \(localMark); numbering after \(highest)"
                )
            }
            return .answered(highest: highest)
        }
    }
}
