/*
 * Peer: Node.js's EventEmitter. Runs bench/node_emit.js with node in a
 * child process during the same run and reads its JSON lines.
 */
#define _GNU_SOURCE /* peer_util.h: CPU_SET */

#include "peer_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef WEIR_BENCH_SOURCE_DIR
#define WEIR_BENCH_SOURCE_DIR "bench"
#endif

#define NODE_MAX_REPS 32

/* Finds node_emit.js: $WEIR_NODE_SCRIPT, beside the executable (CMake
 * copies it there), then the source tree. */
static int
node_script(char *path, size_t size)
{
	const char *env = getenv("WEIR_NODE_SCRIPT");
	char        exe[4000];
	ssize_t     len;

	if (env != NULL) {
		snprintf(path, size, "%s", env);
		return (access(path, R_OK));
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len]    = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(path, size, "%s/node_emit.js", exe);
			if (access(path, R_OK) == 0) {
				return (0);
			}
		}
	}
	snprintf(path, size, "%s/node_emit.js", WEIR_BENCH_SOURCE_DIR);
	return (access(path, R_OK));
}

static int
node_cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return ((x > y) - (x < y));
}

/* Reads node's JSON lines: the rate of each rep and node's version. */
static int
node_read(FILE *fp, double *rates, char *version)
{
	char line[1024];
	int  count = 0;

	while (
	    fgets(line, sizeof(line), fp) != NULL && count < NODE_MAX_REPS) {
		const char *r = strstr(line, "\"events_per_s\":");
		const char *v = strstr(line, "\"node\":\"");
		if (r == NULL) {
			continue;
		}
		rates[count++] = strtod(r + strlen("\"events_per_s\":"), NULL);
		if (v != NULL) {
			v += strlen("\"node\":\"");
			size_t n = strcspn(v, "\"");
			n        = n < 31 ? n : 31;
			memcpy(version, v, n);
			version[n] = '\0';
		}
	}
	return (count);
}

int
peer_node_run(uint64_t n, int reps, double *rate, char *version)
{
	const char *node = getenv("WEIR_NODE");
	char        script[4096];
	char        cmd[8400];
	double      rates[NODE_MAX_REPS];
	FILE       *fp;
	int         count;

	strcpy(version, "?");
	if (node == NULL) {
		node = "node";
	}
	if (node_script(script, sizeof(script)) != 0 ||
	    strchr(script, '\'') != NULL || strchr(node, '\'') != NULL) {
		fprintf(
		    stderr, "node: cannot find node_emit.js (%s)\n", script);
		return (-1);
	}
	snprintf(cmd, sizeof(cmd), "'%s' '%s' %llu %d", node, script,
	    (unsigned long long) n, reps);
	fflush(NULL);
	if ((fp = popen(cmd, "r")) == NULL) {
		fprintf(stderr, "node: cannot run %s\n", cmd);
		return (-1);
	}
	count = node_read(fp, rates, version);
	if (pclose(fp) != 0 || count != reps) {
		fprintf(stderr, "node: %s failed (%d of %d results)\n", cmd,
		    count, reps);
		return (-1);
	}
	qsort(rates, (size_t) count, sizeof(double), node_cmp_double);
	*rate = rates[count / 2];
	return (0);
}
