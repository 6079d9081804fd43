// libpcsclite, through its own headers (never redeclared: SCARD_READERSTATE's layout is the
// library's business). pkg-config's libpcsclite cflags add the PCSC include directory, where
// Debian ships winscard.h; other layouts install it as <PCSC/winscard.h>.
#if __has_include(<winscard.h>)
#include <winscard.h>
#include <reader.h>
#else
#include <PCSC/winscard.h>
#include <PCSC/reader.h>
#endif
