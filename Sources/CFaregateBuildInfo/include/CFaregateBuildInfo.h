// The build's source revision, stamped in at build time. A C target because Swift's -D defines
// only conditions, never values: Package.swift passes FAREGATE_COMMIT (from the environment of
// `swift build`) to this one file as a string macro, so a new commit rebuilds only this target.
#ifndef C_FAREGATE_BUILD_INFO_H
#define C_FAREGATE_BUILD_INFO_H

/// The git commit the binaries were built from (`FAREGATE_COMMIT=$(git rev-parse --short HEAD)
/// swift build …`), or "unknown" for a plain `swift build`. A static string; never NULL.
const char *CFaregateBuildInfo_commit(void);

#endif
