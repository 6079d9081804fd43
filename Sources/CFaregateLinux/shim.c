#define _GNU_SOURCE 1
#include <sys/socket.h>
#include "CFaregateLinux.h"

int CFaregateLinux_peer_uid(int fd, unsigned int *uid, int *pid) {
#ifdef SO_PEERCRED
    struct ucred cred;
    socklen_t len = sizeof cred;
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    if (rc == 0) {
        *uid = cred.uid;
        *pid = cred.pid;
    }
    return rc;
#else
    (void)fd; (void)uid; (void)pid;
    return -1;
#endif
}
