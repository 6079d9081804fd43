// The libFuzzer entry point for every faregate fuzz target (see `FuzzTarget`), chosen by
// `FAREGATE_FUZZ_TARGET`, e.g. `FAREGATE_FUZZ_TARGET=journal-line faregate-fuzz corpus/ -runs=1000`.
// Fuzzes only when linked with -sanitize=fuzzer (scripts/fuzz builds it so); any other build
// says so and exits 2.
import CFuzzerDriver
import FaregateFuzzTargets
import Foundation

/// The target, chosen on the first input. libFuzzer calls the entry point from one thread.
nonisolated(unsafe) private var chosen: FuzzTarget?

private func chooseTarget() -> FuzzTarget {
    let name = ProcessInfo.processInfo.environment["FAREGATE_FUZZ_TARGET"] ?? ""
    if name == "list" {  // scripts/fuzz asks which targets there are
        print(FuzzTarget.all.map(\.name).joined(separator: "\n"))
        exit(0)
    }
    guard let target = FuzzTarget.named(name) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("faregate-fuzz: set FAREGATE_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let target = chosen ?? chooseTarget()
    chosen = target
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

// Reached when SwiftPM's entry point is the program's `main` (it links `main` to this module's
// top-level code); when libFuzzer's own `main` wins instead, it calls the entry point directly.
chosen = chooseTarget()
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = faregate_run_fuzzer(&argc, &argv) { data, size in fuzzOneInput(data, size) }
if status == -1 {
    FileHandle.standardError.write(Data("faregate-fuzz: built without libFuzzer; use scripts/fuzz\n".utf8))
    exit(2)
}
exit(status)
