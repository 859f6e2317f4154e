// No heavy fence (not Linux, or a TSan build, whose model has no
// membarrier): the string cache's readers announce with a seq_cst store.
#include "core/scache_fence.h"

int
weir__fence_heavy_init(void)
{
	return 0;
}

void
weir__fence_heavy(void)
{
}
