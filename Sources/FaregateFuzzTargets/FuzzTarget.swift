/// The fuzz targets: one function per parser of input faregate does not control.
///
/// Each target takes arbitrary bytes and must come back, whatever they are, with a value or a
/// thrown error; a trap, a sanitizer report, a leak of unbounded memory or a hang is a finding.
/// The targets live in a library (not in the fuzz executable) so that the normal XCTest suite
/// replays the checked-in corpus and every crash input through the very same code
/// (`FuzzRegressionTests`), without libFuzzer.
///
/// One registry, one executable (`faregate-fuzz`, the target chosen by `FAREGATE_FUZZ_TARGET`):
/// on a 2-core machine one ASan build serves every target, where one executable per target would
/// link the same instrumented modules once per target.
public struct FuzzTarget: Sendable {
    public var name: String
    /// What the target feeds the bytes to.
    public var summary: String
    public var run: @Sendable ([UInt8]) -> Void

    public init(_ name: String, _ summary: String, _ run: @escaping @Sendable ([UInt8]) -> Void) {
        self.name = name
        self.summary = summary
        self.run = run
    }

    /// Every target, in the order `scripts/fuzz` runs them.
    public static let all: [FuzzTarget] = [
        card, journalLine, journalRecovery, acked, highWater, snapshot, delta, manifest, policy, config, control,
        tapScript, ioBoardMap, ioBoardReplies, rideCode, issuerKeys, issuerKeyDocument, replayCache,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// A broken invariant a target checks beyond "no trap" (a decoded value that does not encode
/// back, a sequence past the ceiling): reported by trapping, so libFuzzer keeps the input.
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line)
{
    if !condition { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}
