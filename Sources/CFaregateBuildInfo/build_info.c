#include "CFaregateBuildInfo.h"

#ifndef FAREGATE_COMMIT
#define FAREGATE_COMMIT "unknown"
#endif

const char *CFaregateBuildInfo_commit(void) { return FAREGATE_COMMIT; }
