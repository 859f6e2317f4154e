// The configuration of weir_store_attach(): plain values, read once at
// attach (the subscription copies what it keeps), so the caller always
// destroys their own config.
#ifndef WEIR_STORE_ATTACH_CONFIG_H
#define WEIR_STORE_ATTACH_CONFIG_H

#include <weir/store.h>

struct weir_store_attach_config {
	size_t      capacity;
	weir_policy policy;
	int64_t     block_timeout_ms;
	char       *name; // owned; NULL: "store:<pattern>"
};

// The defaults a NULL config stands for.
void weir__attach_config_defaults(weir_store_attach_config *cfg);

#endif
