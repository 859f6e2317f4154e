/*
 * Wiring shared by the subcommands: a store opened from flags or the
 * config, and a bus with a bridge built from the config's routes.
 */
#ifndef WEIR_CLI_WIRE_H
#define WEIR_CLI_WIRE_H

#include <weir/bridge.h>
#include <weir/store.h>

#include "cli/config.h"

/* Opens the store at @p path; @p c (may be NULL) gives durability and
 * max_event; a missing file is created only when @p create. Prints the
 * reason on failure. Returns a CLI_EXIT_ code. */
int weir__wire_store(
    weir_store **st, const char *path, const cli_config *c, int create);

/* The backend for @p scheme, or NULL with *why set (unknown scheme, or
 * a backend this build left out). */
const weir_backend_ops *weir__wire_backend(
    const char *scheme, const char **why);
/* The schemes this build has, e.g. "mem kafka nats natscore". */
const char *weir__wire_backends(void);

typedef struct cli_bridge_opts {
	int         force_direct; /* every route in direct mode */
	const char *only;         /* only this route (NULL: all) */
} cli_bridge_opts;

/* Creates a bridge over @p bus (and @p st, NULL for direct-only) with
 * the config's keys, backends and routes, and starts it. Errors name
 * the config's file:line where one is to blame. Returns a CLI_EXIT_
 * code; *out is NULL on error. */
int weir__wire_bridge(weir_bridge **out, weir_bus *bus, weir_store *st,
    const cli_config *c, const cli_bridge_opts *o);

/* Route @p name's counters (zeroed if unknown). */
weir_bridge_route_stats weir__wire_route_stats(
    weir_bridge *br, const char *name);

#endif
