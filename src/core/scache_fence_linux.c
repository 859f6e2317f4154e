// The heavy fence is Linux's membarrier(PRIVATE_EXPEDITED): an IPI to
// every CPU running a thread of this process (a few microseconds, paid
// by weir_off() and weir_unsubscribe(), never by an emit).
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/scache_fence.h"

int
weir__fence_heavy_init(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
		return 0;
	}
	return syscall(SYS_membarrier,
	           MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void
weir__fence_heavy(void)
{
	(void) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}
