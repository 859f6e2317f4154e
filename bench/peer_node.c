/*
 * Peer: Node.js's EventEmitter. Runs bench/node_emit.js --serve with node
 * in a child process that stays up for the whole emit group: core_bench
 * asks it for one timed round at a time, in turn with weir's cases.
 */
#define _GNU_SOURCE /* peer_util.h: CPU_SET */

#include "peer_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef WEIR_BENCH_SOURCE_DIR
#define WEIR_BENCH_SOURCE_DIR "bench"
#endif

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

/* The child: node_emit.js --serve, one round per line written to it. */
struct peer_node {
	pid_t    pid;
	FILE    *to;   /* node's stdin */
	FILE    *from; /* node's stdout */
	uint64_t n;
};

/* Reads one JSON line of node's: the round's ns per event, and the
 * version. */
static int
node_read(peer_node *pn, double *ns_per_event, char *version)
{
	char        line[1024];
	const char *r, *v;

	if (fgets(line, sizeof(line), pn->from) == NULL ||
	    (r = strstr(line, "\"ns_per_event\":")) == NULL) {
		return (-1);
	}
	*ns_per_event = strtod(r + strlen("\"ns_per_event\":"), NULL);
	if (version != NULL && (v = strstr(line, "\"node\":\"")) != NULL) {
		v += strlen("\"node\":\"");
		size_t len = strcspn(v, "\"");
		len        = len < 31 ? len : 31;
		memcpy(version, v, len);
		version[len] = '\0';
	}
	return (0);
}

static void
node_exec(
    const char *node, const char *script, uint64_t n, int in[2], int out[2])
{
	char count[32];

	snprintf(count, sizeof(count), "%llu", (unsigned long long) n);
	dup2(in[0], 0);
	dup2(out[1], 1);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	execlp(node, node, script, count, "0", "--serve", (char *) NULL);
	_exit(127);
}

peer_node *
peer_node_open(uint64_t n)
{
	const char *node = getenv("WEIR_NODE");
	char        script[4096];
	int         in[2], out[2];
	peer_node  *pn;

	if (node == NULL) {
		node = "node";
	}
	if (node_script(script, sizeof(script)) != 0) {
		fprintf(
		    stderr, "node: cannot find node_emit.js (%s)\n", script);
		return (NULL);
	}
	if ((pn = calloc(1, sizeof(*pn))) == NULL || pipe(in) != 0) {
		free(pn);
		return (NULL);
	}
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		free(pn);
		return (NULL);
	}
	fflush(NULL);
	if ((pn->pid = fork()) == 0) {
		node_exec(node, script, n, in, out);
	}
	close(in[0]);
	close(out[1]);
	pn->to   = fdopen(in[1], "w");
	pn->from = fdopen(out[0], "r");
	pn->n    = n;
	if (pn->pid < 0 || pn->to == NULL || pn->from == NULL) {
		peer_node_close(pn);
		return (NULL);
	}
	return (pn);
}

int
peer_node_round(peer_node *pn, uint64_t *ns, char *version)
{
	double per;

	if (fputs("\n", pn->to) == EOF || fflush(pn->to) != 0 ||
	    node_read(pn, &per, version) != 0) {
		fprintf(stderr, "node: no result from node_emit.js\n");
		return (-1);
	}
	*ns = (uint64_t) (per * (double) pn->n);
	return (0);
}

void
peer_node_close(peer_node *pn)
{
	if (pn == NULL) {
		return;
	}
	if (pn->to != NULL) {
		fclose(pn->to); /* EOF: the script ends */
	}
	if (pn->from != NULL) {
		fclose(pn->from);
	}
	if (pn->pid > 0) {
		waitpid(pn->pid, NULL, 0);
	}
	free(pn);
}
