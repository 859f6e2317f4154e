/*
 * weir_bridge_config: an ordered list of string keys and values. Keys
 * "kafka.*" and "nats.*" belong to the backends (read with
 * weir_bridge_config_get / _each); "bridge.*" keys are the bridge's own
 * and are checked when set, so a typo fails at once.
 */
#include "bridge/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

typedef struct config_item {
	char *key;
	char *value;
} config_item;

struct weir_bridge_config {
	config_item *items;
	size_t       count;
	size_t       cap;
};

/* The bridge's own keys (docs/bridge.md, "Configuration"). */
static const char *const config_bridge_keys[] = { "bridge.source",
	"bridge.window", "bridge.max_backlog", "bridge.queue_capacity",
	"bridge.policy", "bridge.block_timeout_ms", "bridge.retry.initial_ms",
	"bridge.retry.max_ms", "bridge.retry.max_attempts",
	"bridge.breaker.threshold", "bridge.breaker.cooldown_ms",
	"bridge.ack_timeout_ms", "bridge.poll_ms", "bridge.direct_capacity",
	"bridge.inbound.batch", "bridge.inbound.max_in_flight",
	"bridge.inbound.fetch_ms", "bridge.inbound.dedupe_ms",
	"bridge.inbound.dedupe_max", "bridge.inbound.prune_ms",
	"bridge.start.partial", "bridge.handoff_bytes" };

static int
config_known(const char *key)
{
	if (strncmp(key, "kafka.", 6) == 0 || strncmp(key, "nats.", 5) == 0 ||
	    strncmp(key, "mem.", 4) == 0)
		return key[strlen(key) - 1] != '.';
	for (size_t i = 0;
	     i < sizeof config_bridge_keys / sizeof *config_bridge_keys; i++)
		if (strcmp(key, config_bridge_keys[i]) == 0)
			return 1;
	return 0;
}

weir_err
weir_bridge_config_create(weir_bridge_config **out)
{
	if (out == NULL)
		return WEIR_EINVAL;
	*out = weir__zalloc(sizeof **out);
	return *out != NULL ? WEIR_OK : WEIR_ENOMEM;
}

void
weir_bridge_config_destroy(weir_bridge_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->count; i++) {
		weir__free(cfg->items[i].key);
		weir__free(cfg->items[i].value);
	}
	weir__free(cfg->items);
	weir__free(cfg);
}

static config_item *
config_find(const weir_bridge_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (strcmp(cfg->items[i].key, key) == 0)
			return &cfg->items[i];
	return NULL;
}

static weir_err
config_append(weir_bridge_config *cfg, const char *key, const char *value)
{
	if (cfg->count == cfg->cap) {
		size_t       cap = cfg->cap ? cfg->cap * 2 : 8;
		config_item *items =
		    weir__realloc(cfg->items, cap * sizeof *items);
		if (items == NULL)
			return WEIR_ENOMEM;
		cfg->items = items;
		cfg->cap   = cap;
	}
	config_item *it = &cfg->items[cfg->count];
	it->key         = weir__strdup(key);
	it->value       = weir__strdup(value);
	if (it->key == NULL || it->value == NULL) {
		weir__free(it->key);
		weir__free(it->value);
		return WEIR_ENOMEM;
	}
	cfg->count++;
	return WEIR_OK;
}

weir_err
weir_bridge_config_set_str(
    weir_bridge_config *cfg, const char *key, const char *value)
{
	if (cfg == NULL || key == NULL || !config_known(key))
		return WEIR_EINVAL;
	config_item *it = config_find(cfg, key);
	if (it == NULL)
		return value != NULL ? config_append(cfg, key, value)
		                     : WEIR_OK;
	if (value == NULL) { /* unset: keep the order of the others */
		weir__free(it->key);
		weir__free(it->value);
		size_t i = (size_t) (it - cfg->items);
		memmove(it, it + 1, (cfg->count - i - 1) * sizeof *it);
		cfg->count--;
		return WEIR_OK;
	}
	char *copy = weir__strdup(value);
	if (copy == NULL)
		return WEIR_ENOMEM;
	weir__free(it->value);
	it->value = copy;
	return WEIR_OK;
}

const char *
weir_bridge_config_get(const weir_bridge_config *cfg, const char *key)
{
	if (cfg == NULL || key == NULL)
		return NULL;
	config_item *it = config_find(cfg, key);
	return it != NULL ? it->value : NULL;
}

weir_err
weir_bridge_config_each(const weir_bridge_config *cfg, const char *prefix,
    weir_err (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	if (cfg == NULL || prefix == NULL || fn == NULL)
		return WEIR_EINVAL;
	size_t n = strlen(prefix);
	for (size_t i = 0; i < cfg->count; i++) {
		if (strncmp(cfg->items[i].key, prefix, n) != 0)
			continue;
		weir_err e = fn(cfg->items[i].key, cfg->items[i].value, arg);
		if (e != WEIR_OK)
			return e;
	}
	return WEIR_OK;
}

weir_err
weir__bridge_config_clone(
    weir_bridge_config **out, const weir_bridge_config *cfg)
{
	weir_err e = weir_bridge_config_create(out);
	for (size_t i = 0; e == WEIR_OK && cfg != NULL && i < cfg->count; i++)
		e = config_append(
		    *out, cfg->items[i].key, cfg->items[i].value);
	if (e != WEIR_OK) {
		weir_bridge_config_destroy(*out);
		*out = NULL;
	}
	return e;
}

weir_err
weir__bridge_config_u64(const weir_bridge_config *cfg, const char *key,
    uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *v = weir_bridge_config_get(cfg, key);
	*out          = dflt;
	if (v == NULL)
		return WEIR_OK;
	char *end;
	errno                = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < min ||
	    n > max)
		return WEIR_EINVAL;
	*out = n;
	return WEIR_OK;
}
