/*
 * The tool's INI file, read with libinih:
 *   [store]        path, durability (full|normal), max_event (bytes)
 *   [bridge]       the bridge's keys without "bridge." (window, ...)
 *   [kafka]        librdkafka keys without "kafka." (bootstrap.servers)
 *   [nats]         cnats keys without "nats." (url, stream, ...)
 *   [mem]          the mem backend's keys (record_path)
 *   [route NAME]   pattern, scheme, dest, key, direct, window,
 *                  max_backlog, max_attempts
 * Unknown sections and keys, over-long lines and lines holding a NUL
 * byte are errors naming file:line (and the key).
 */
#ifndef WEIR_CLI_CONFIG_H
#define WEIR_CLI_CONFIG_H

#include <stddef.h>

#include <weir/bridge.h>

/* A bridge key as the bridge takes it ("kafka.bootstrap.servers"), with
 * where it was written. */
typedef struct cli_entry {
	char *key;
	char *value;
	int   line;
} cli_entry;

typedef struct cli_route {
	char                  *name;
	char                  *pattern, *scheme, *dest, *key;
	weir_bridge_route_opts opts;
	int                    line; /* of its first key (inih gives no
	                              * line for a header) */
} cli_route;

typedef struct cli_config {
	const char *file;
	char       *store_path;
	int         store_line;
	int         durability; /* -1: not set; else weir_store_durability */
	size_t      max_event;  /* 0: not set */
	cli_entry  *entries;
	size_t      nentries;
	cli_route  *routes;
	size_t      nroutes;
	int         sections; /* bit per backend section: 1 kafka, 2 nats */
	int         kafka_line, nats_line;
	char        err[600];
} cli_config;

/* Reads @p file into @p c (zeroed first). Returns 0, or -1 with c->err
 * "file:line: ..." (the caller prints it; exit CLI_EXIT_INPUT). */
int weir__config_load(cli_config *c, const char *file);
/* Frees what @p c holds; a zeroed config is fine. */
void weir__config_free(cli_config *c);
/* The entry whose key @p text mentions (a backend's error), or NULL. */
const cli_entry *weir__config_blame(const cli_config *c, const char *text);

#endif
