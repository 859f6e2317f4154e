/*
 * Running one of the weir tool's subcommands in-process, for the tests
 * that link the tool's sources (cmd_oom_test, cmd_fault_test): its
 * entry point with stdin from a file (or /dev/null), stdout and stderr
 * to cmd.out and cmd.err in the working directory.
 */
#ifndef WEIR_TEST_CMD_RUN_H
#define WEIR_TEST_CMD_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir_test.h"
#include <weir/store.h>

typedef int (*cmd_fn)(int argc, char **argv);

/* Runs @p fn with @p args (NULL-terminated; args[0] is the command's
 * name), stdin from @p in (or /dev/null); returns its exit code. */
static inline int
run(cmd_fn fn, const char *in, const char *const *args)
{
	char *argv[16];
	int   argc = 0;
	while (args[argc] != NULL) {
		argv[argc] = (char *) args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	int saved[3] = { dup(0), dup(1), dup(2) };
	int fds[3]   = { open(in ? in : "/dev/null", O_RDONLY),
		  open("cmd.out", O_WRONLY | O_CREAT | O_TRUNC, 0600),
		  open("cmd.err", O_WRONLY | O_CREAT | O_TRUNC, 0600) };
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || saved[2] < 0)
		fail_msg("open: %s", strerror(errno)); /* not redirected yet */
	for (int i = 0; i < 3; i++) {
		dup2(fds[i], i);
		close(fds[i]);
	}
	clearerr(stdin);
	int rv = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	clearerr(stdin);
	return rv;
}

static inline char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[1 << 16];
	size_t      n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* A weir_store_read_all() callback: each event becomes a dead letter of
 * route "r1", as a failing route leaves them (tests/cli/dlq_seed.c). */
static inline weir_err
cmd_seed_dead(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) stream;
	(void) version;
	(void) arg;
	return weir_store_dead_add(
	    st, ev, "r1", WEIR_EBACKEND, "seeded by a cmd test", NULL);
}

#endif /* WEIR_TEST_CMD_RUN_H */
