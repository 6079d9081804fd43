// membarrier(2): the heavy half of an asymmetric fence (TapParker). glibc has no wrapper, and
// Swift cannot call the variadic syscall(2) directly.
#define _GNU_SOURCE 1
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CFaregateLinux.h"

int CFaregateLinux_membarrier_register(void) {
#ifdef __NR_membarrier
    long commands = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);
    if (commands < 0 || !(commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return -1;
    return (int)syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0);
#else
    return -1;
#endif
}

int CFaregateLinux_membarrier(void) {
#ifdef __NR_membarrier
    return (int)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0);
#else
    return -1;
#endif
}
