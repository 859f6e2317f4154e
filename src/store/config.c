// The store's configuration: plain values, copied into the store at
// open, so the caller always destroys their own config.
#include <string.h>

#include "core/alloc.h"
#include "store/store.h"

weir_err
weir_store_config_create(weir_store_config **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	weir_store_config *cfg = weir__zalloc(sizeof(*cfg));
	if ((*out = cfg) == NULL) {
		return WEIR_ENOMEM;
	}
	cfg->durability = WEIR_STORE_DURABILITY_FULL;
	cfg->max_event  = WEIR_STORE_DEFAULT_MAX_EVENT;
	// A batch takes all the queue holds: with FULL durability a commit
	// is one fsync, which costs about as much for 8192 appends as for
	// 1024 (bridge_bench: 53 commits of a 50,000-event round spent
	// 450-510 ms in COMMIT, 10-12 commits 100-160 ms).
	cfg->max_batch      = 8192;
	cfg->queue_capacity = 8192;
	return WEIR_OK;
}

void
weir_store_config_destroy(weir_store_config *cfg)
{
	if (cfg != NULL) {
		weir__free(cfg->vfs);
		weir__free(cfg);
	}
}

weir_err
weir_store_config_set_durability(
    weir_store_config *cfg, weir_store_durability d)
{
	if (cfg == NULL ||
	    (d != WEIR_STORE_DURABILITY_FULL &&
	        d != WEIR_STORE_DURABILITY_NORMAL)) {
		return WEIR_EINVAL;
	}
	cfg->durability = d;
	return WEIR_OK;
}

weir_err
weir_store_config_set_max_event(weir_store_config *cfg, size_t bytes)
{
	// SQLite's own limit on a row is 1 GB; stay well below it.
	if (cfg == NULL || bytes == 0 || bytes > 512u * 1024 * 1024) {
		return WEIR_EINVAL;
	}
	cfg->max_event = bytes;
	return WEIR_OK;
}

weir_err
weir_store_config_set_batch(
    weir_store_config *cfg, size_t max_batch, size_t queue_capacity)
{
	if (cfg == NULL || max_batch == 0 || queue_capacity == 0) {
		return WEIR_EINVAL;
	}
	cfg->max_batch      = max_batch;
	cfg->queue_capacity = queue_capacity;
	return WEIR_OK;
}

weir_err
weir_store_config_set_max_pages(weir_store_config *cfg, uint64_t pages)
{
	if (cfg == NULL || pages > (uint64_t) INT32_MAX) {
		return WEIR_EINVAL;
	}
	cfg->max_pages = pages;
	return WEIR_OK;
}

weir_err
weir_store_config_set_vfs(weir_store_config *cfg, const char *vfs)
{
	if (cfg == NULL) {
		return WEIR_EINVAL;
	}
	char *copy = NULL;
	if (vfs != NULL && (copy = weir__strdup(vfs)) == NULL) {
		return WEIR_ENOMEM;
	}
	weir__free(cfg->vfs);
	cfg->vfs = copy;
	return WEIR_OK;
}
