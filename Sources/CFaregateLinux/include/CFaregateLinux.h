// Linux calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module is built
// without (the same reason swift-nio has CNIOLinux). The declarations here use plain C types so
// no glibc struct is redeclared on the Swift side.
#ifndef C_FAREGATE_LINUX_H
#define C_FAREGATE_LINUX_H

/// Wraps getsockopt(SO_PEERCRED): the user id of the process at the other end of a connected
/// Unix domain socket. Returns 0, or -1 with errno set.
int CFaregateLinux_peer_uid(int fd, unsigned int *uid, int *pid);

#endif
