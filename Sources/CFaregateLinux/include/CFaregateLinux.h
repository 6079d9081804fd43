// Linux calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module is built
// without (the same reason swift-nio has CNIOLinux). The declarations here use plain C types so
// no glibc struct is redeclared on the Swift side.
#ifndef C_FAREGATE_LINUX_H
#define C_FAREGATE_LINUX_H

/// Wraps getsockopt(SO_PEERCRED): the user id of the process at the other end of a connected
/// Unix domain socket. Returns 0, or -1 with errno set.
int CFaregateLinux_peer_uid(int fd, unsigned int *uid, int *pid);

/// Wraps membarrier(MEMBARRIER_CMD_QUERY) and, when the kernel offers it,
/// membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) for this process. Returns 0, or -1 when
/// the kernel (or a seccomp filter) does not allow it.
int CFaregateLinux_membarrier_register(void);

/// Wraps membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every running thread of this process
/// passes a full memory barrier before the call returns. Only after a successful
/// `CFaregateLinux_membarrier_register`. Returns 0, or -1 with errno set.
int CFaregateLinux_membarrier(void);

/// Wraps posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC), grantpt, unlockpt and ptsname_r: a new
/// pseudo-terminal master in *master and its slave's path in slave_name (len bytes). Returns 0, or
/// -1 with errno set (nothing left open).
int CFaregateLinux_open_pty(int *master, char *slave_name, unsigned long len);

/// Wraps pipe2(O_CLOEXEC|O_NONBLOCK). Returns 0, or -1 with errno set.
int CFaregateLinux_pipe_nonblocking(int fds[2]);

#endif
