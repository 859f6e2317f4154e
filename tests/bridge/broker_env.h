/*
 * Where the real brokers are (scripts/brokers.sh), skip-or-fail when
 * there is none, and unique names: the part of brokers.h that needs no
 * bridge, so tests that stand in for the bridge (nats_test,
 * nats_source_test) share it too.
 */
#ifndef WEIR_BRIDGE_BROKER_ENV_H
#define WEIR_BRIDGE_BROKER_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir_test.h"

#ifndef WEIR_SOURCE_DIR
#define WEIR_SOURCE_DIR "."
#endif

/* ---- where the brokers are ---------------------------------------- */

/* @p name (WEIR_KAFKA_BOOTSTRAP, WEIR_NATS_URL) from the environment,
 * else from build/brokers/env; NULL if neither has it. */
static inline const char *
bk_env(const char *name, char *buf, size_t cap)
{
	const char *v = getenv(name);
	char        line[512];
	size_t      n = strlen(name);
	if (v != NULL && v[0] != '\0') {
		snprintf(buf, cap, "%s", v);
		return buf;
	}
	buf[0]  = '\0';
	FILE *f = fopen(WEIR_SOURCE_DIR "/build/brokers/env", "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == '=') {
			line[strcspn(line, "\r\n")] = '\0';
			/* (checked: -O1 -Wformat-truncation) */
			if (snprintf(buf, cap, "%s", line + n + 1) < 0)
				buf[0] = '\0';
		}
	if (f != NULL)
		fclose(f);
	return buf[0] != '\0' ? buf : NULL;
}

static inline int
bk_in_ci(void)
{
	const char *ci = getenv("CI");
	return ci != NULL && strcmp(ci, "true") == 0;
}

/* The broker's address, or skips the test (fails it with CI=true). */
#define BK_NEED(var, name, buf)                                            \
	do {                                                               \
		(var) = bk_env((name), (buf), sizeof(buf));                \
		if ((var) == NULL) {                                       \
			if (bk_in_ci())                                    \
				fail_msg("CI=true and no %s: run "         \
				         "scripts/brokers.sh start",       \
				    (name));                               \
			print_message("no %s (scripts/brokers.sh start): " \
			              "skipped\n",                         \
			    (name));                                       \
			skip();                                            \
		}                                                          \
	} while (0)

/* A name no other run (nor another engineer's test) uses. */
static inline void
bk_unique(char *out, size_t cap, const char *prefix)
{
	static int      n;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, cap, "%s%ld_%ld%03ld_%d", prefix, (long) getpid(),
	    (long) ts.tv_sec, ts.tv_nsec / 1000000, n++);
}

#endif /* WEIR_BRIDGE_BROKER_ENV_H */
