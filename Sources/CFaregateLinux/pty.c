#define _GNU_SOURCE 1
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "CFaregateLinux.h"

int CFaregateLinux_open_pty(int *master, char *slave_name, unsigned long len) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, slave_name, len) != 0) {
        close(m);
        return -1;
    }
    *master = m;
    return 0;
}

int CFaregateLinux_pipe_nonblocking(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }
