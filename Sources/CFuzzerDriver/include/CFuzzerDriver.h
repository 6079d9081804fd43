#ifndef FAREGATE_CFUZZERDRIVER_H
#define FAREGATE_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver for programs that keep their own main (compiler-rt's FuzzerInterface.h,
// LLVM 11 and later). SwiftPM links an executable's `main` to the module's entry point, so the
// fuzz target calls the driver from there instead of letting libFuzzer own `main`.
//
// Weak: present only when the program is linked with -sanitize=fuzzer. The ordinary builds
// (`swift build`, `swift build -c release`) link faregate-fuzz too, and there it is null.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size))
    __attribute__((weak));

/// Runs libFuzzer on `callback`; -1 when this build has no libFuzzer (not built by scripts/fuzz).
static inline int faregate_run_fuzzer(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t)) {
    if (LLVMFuzzerRunDriver == NULL) return -1;
    return LLVMFuzzerRunDriver(argc, argv, callback);
}

#endif
