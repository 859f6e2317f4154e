// The configuration of an attachment. The limits are the subscription's
// own (weir_subscr_config_set_*), checked here too so that a bad value
// fails at the setter rather than later at attach.
#include "store/attach_config.h"
#include "core/alloc.h"

void
weir__attach_config_defaults(weir_store_attach_config *cfg)
{
	// Block without a deadline: a log that sheds by default would
	// lose events nobody decided to lose.
	cfg->capacity         = 1024;
	cfg->policy           = WEIR_POLICY_BLOCK;
	cfg->block_timeout_ms = -1;
	cfg->name             = NULL;
}

weir_err
weir_store_attach_config_create(weir_store_attach_config **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	weir_store_attach_config *cfg = weir__zalloc(sizeof(*cfg));
	if ((*out = cfg) == NULL) {
		return WEIR_ENOMEM;
	}
	weir__attach_config_defaults(cfg);
	return WEIR_OK;
}

void
weir_store_attach_config_destroy(weir_store_attach_config *cfg)
{
	if (cfg != NULL) {
		weir__free(cfg->name);
		weir__free(cfg);
	}
}

weir_err
weir_store_attach_config_set_capacity(
    weir_store_attach_config *cfg, size_t capacity)
{
	if (cfg == NULL || capacity == 0 || capacity > ((size_t) 1 << 30)) {
		return WEIR_EINVAL;
	}
	cfg->capacity = capacity;
	return WEIR_OK;
}

weir_err
weir_store_attach_config_set_policy(weir_store_attach_config *cfg,
    weir_policy policy, int64_t block_timeout_ms)
{
	if (cfg == NULL || (unsigned) policy > WEIR_POLICY_COALESCE ||
	    block_timeout_ms < -1) {
		return WEIR_EINVAL;
	}
	cfg->policy           = policy;
	cfg->block_timeout_ms = block_timeout_ms;
	return WEIR_OK;
}

weir_err
weir_store_attach_config_set_name(
    weir_store_attach_config *cfg, const char *name)
{
	char *copy = NULL;
	if (cfg == NULL) {
		return WEIR_EINVAL;
	}
	if (name != NULL && *name == '\0') {
		return WEIR_EINVAL;
	}
	if (name != NULL && (copy = weir__strdup(name)) == NULL) {
		return WEIR_ENOMEM;
	}
	weir__free(cfg->name);
	cfg->name = copy;
	return WEIR_OK;
}
