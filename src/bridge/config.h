/* The bridge's key/value configuration (internal side). */
#ifndef WEIR_BRIDGE_CONFIG_H
#define WEIR_BRIDGE_CONFIG_H

#include <weir/bridge.h>

/* A deep copy of @p cfg (NULL: an empty config) into *out. */
weir_err weir__bridge_config_clone(
    weir_bridge_config **out, const weir_bridge_config *cfg);
/* The value of @p key as an unsigned number, or @p dflt if unset.
 * WEIR_EINVAL if set but not a number in [min, max]. */
weir_err weir__bridge_config_u64(const weir_bridge_config *cfg,
    const char *key, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out);

#endif
