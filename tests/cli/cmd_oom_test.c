/*
 * The weir tool's subcommands under allocation failure: each command
 * runs in-process (its entry point, stdout and stderr sent to files),
 * once as the reference, then again with the n-th allocation failing,
 * for n = 1, 2, ... until a run fires no failure. Every run must either
 * recover (exit 0 and the reference's output) or report it (a "weir:"
 * line on stderr and a runtime exit code); never crash, hang or leak
 * (ASan's LSan). The allocations are libc's (libc_fail.h): the tool's
 * own and weir's, whose default allocator is libc's, and jansson's
 * (json_set_alloc_funcs); SQLite's (a shared library) do not fail.
 */
#include "weir_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <weir/store.h>

#include "cli/cli.h"
#include "cmd_run.h"
#include "libc_fail.h"

/* Thread creation failing in turn too (-Wl,--wrap=pthread_create):
 * the replay's guard thread, the store's and the bridge's threads. */
int __real_pthread_create(
    pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(
    pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

static _Atomic long pt_calls, pt_fail_at;
static int          arm_threads; /* fail threads, not allocations */

int
__wrap_pthread_create(
    pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (pt_fail_at > 0 && ++pt_calls == pt_fail_at)
		return EAGAIN;
	return __real_pthread_create(th, attr, fn, arg);
}

static void
arm(long n)
{
	if (arm_threads) {
		pt_calls   = 0;
		pt_fail_at = n;
	} else {
		lf_arm(n);
	}
}

static long
calls(void)
{
	return arm_threads ? pt_calls : lf_calls;
}

/* main.c is not linked (it has main): its one shared text. */
const char weir__cli_exit_help[] = "exit codes: (cmd_oom_test)\n";

/* Open file descriptors: a failed run must not leak one. */
static int
fd_count(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* The "seq":N of every event in @p text, in order: what a recovered
 * run must print exactly. (The text may differ otherwise: when jansson
 * cannot allocate a text field, ndjson.c writes its _b64 form, the same
 * bytes; see docs/reliability.md, Coverage of src/cli.) */
static void
seqs_of(const char *text, char *out, size_t size)
{
	size_t n = 0;
	out[0]   = '\0';
	for (const char *p = text; (p = strstr(p, "\"seq\":")) != NULL; p++) {
		size_t len = strspn(p + 6, "0123456789");
		if (n + len + 2 < size) {
			memcpy(out + n, p + 6, len);
			n += len;
			out[n++] = ' ';
			out[n]   = '\0';
		}
	}
}

static void
copy_file(const char *from, const char *to)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* The first line of @p text that starts with '{' but is not valid
 * JSON, or NULL: a recovered run's output must stay parseable (jansson's
 * json_dumps could drop an object's key when its buffer failed to grow). */
static const char *
bad_json_line(const char *text)
{
	static char line[4096];
	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		if (*p == '{' && len < sizeof line) {
			memcpy(line, p, len);
			line[len] = '\0';
			json_t *o = json_loads(line, 0, NULL);
			json_decref(o);
			if (o == NULL)
				return line;
		}
		p += len + (p[len] == '\n');
	}
	return NULL;
}

/* What one command is: its args, its input, a store to start from
 * (copied to the path its args name), and whether its output may be
 * compared with the reference (no random ids, no timings). */
typedef struct cmd_case {
	cmd_fn             fn;
	const char *const *args;
	const char        *in, *fixture, *store;
	int                compare_out;
	int                ok_rc; /* the reference's exit code */
} cmd_case;

static void
prepare(const cmd_case *k)
{
	if (k->store != NULL) {
		unlink(k->store);
		if (k->fixture != NULL)
			copy_file(k->fixture, k->store);
	}
}

static void
oom_loop(const cmd_case *k)
{
	int64_t t0 = wt_now_ms();
	prepare(k);
	int rc = run(k->fn, k->in, k->args);
	if (rc != k->ok_rc) {
		char *err = slurp("cmd.err");
		fail_msg("%s: reference exit %d: %s", k->args[0], rc, err);
	}
	char *want = slurp("cmd.out");
	long  n;
	/* OOM_FROM=n: start there (to look at one run in a debugger) */
	long from = getenv("OOM_FROM") ? atol(getenv("OOM_FROM")) : 1;
	for (n = from; n < 5000; n++) {
		prepare(k);
		FILE *nf = fopen("cmd.n", "a"); /* which run, if it crashes */
		if (nf != NULL) {
			fprintf(nf, "%s %s %ld\n", k->args[0], k->args[1], n);
			fclose(nf);
		}
		int fds = fd_count();
		arm(n);
		rc         = run(k->fn, k->in, k->args);
		long fired = calls() >= n;
		arm(0);
		char *out = slurp("cmd.out");
		char *err = slurp("cmd.err");
		if (fd_count() != fds)
			fail_msg("%s, allocation %ld: exit %d, %d fds leaked, "
			         "stderr '%s'",
			    k->args[0], n, rc, fd_count() - fds, err);
		const char *bad = bad_json_line(out);
		if (bad != NULL)
			fail_msg(
			    "%s %s, allocation %ld: exit %d, invalid JSON "
			    "written: %s",
			    k->args[0], k->args[1], n, rc, bad);
		if (rc == k->ok_rc) {
			static char got_seqs[4096], want_seqs[4096];
			seqs_of(out, got_seqs, sizeof got_seqs);
			seqs_of(want, want_seqs, sizeof want_seqs);
			if (k->compare_out && strcmp(got_seqs, want_seqs) != 0)
				fail_msg("%s, allocation %ld: exit %d, other "
				         "output:\n%s\nwant:\n%s",
				    k->args[0], n, rc, out, want);
		} else if ((rc != CLI_EXIT_RUNTIME && rc != CLI_EXIT_PARTIAL &&
		               rc != CLI_EXIT_INPUT) ||
		    strstr(err, "weir: ") == NULL) {
			fail_msg("%s, allocation %ld: exit %d, stderr '%s'",
			    k->args[0], n, rc, err);
		}
		free(out);
		free(err);
		if (!fired)
			break;
	}
	free(want);
	print_message("%s %s: %ld %s failed in turn (%lld ms)\n", k->args[0],
	    k->args[1], n - 1,
	    arm_threads ? "thread creations" : "allocations",
	    (long long) (wt_now_ms() - t0));
	assert_true(n > from && n < 5000);
}

static const char *const gw_args[]     = { "gateway", "-c", "oom.ini", "--ack",
	    "--drain-timeout", "1", NULL };
static const char *const tail_args[]   = { "tail", "-s", "fx.db", "-n", "3",
	  NULL };
static const char *const replay_args[] = { "replay", "-s", "fx.db", NULL };
static const char *const bus_args[] = { "replay", "-s", "fx.db", "--to", "bus",
	"-c", "bus.ini", "--drain-timeout", "1", NULL };
static const char *const stats_args[] = { "stats", "-s", "fx.db", NULL };
static const char *const watch_args[] = { "stats", "-s", "fx.db", "--watch",
	"--count", "2", "--interval", "0.001", NULL };
static const char *const list_args[]  = { "dlq", "list", "-s", "fx.db", NULL };
static const char *const show_args[]  = { "dlq", "show", "-s", "fx.db", "--id",
	 "2", NULL };
static const char *const retry_args[] = { "dlq", "retry", "-s", "rt.db", "-c",
	"bus.ini", "--timeout", "1", NULL };
static const char *const purge_args[] = { "dlq", "purge", "-s", "rt.db",
	"--all", NULL };

static int
setup(void **state)
{
	(void) state;
	FILE *f = fopen("oom.ini", "w");
	assert_non_null(f);
	fputs("[store]\npath = gw.db\n[mem]\n[route r1]\npattern = o.>\n"
	      "scheme = mem\ndest = out.{2}\n",
	    f);
	fclose(f);
	f = fopen("bus.ini", "w");
	assert_non_null(f);
	fputs("[mem]\n[route r1]\npattern = o.>\nscheme = mem\n"
	      "dest = out.{2}\n",
	    f);
	fclose(f);
	f = fopen("oom.ndjson", "w");
	assert_non_null(f);
	fputs(
	    "{\"topic\":\"o.a\",\"key\":\"k\",\"payload\":\"1\"}\n"
	    "{\"topic\":\"o.b\",\"stream\":\"s\",\"headers\":{\"h\":\"v\"}}\n"
	    "{\"topic\":\"o.a\",\"payload_b64\":\"AP8=\"}\nnot json\n",
	    f);
	fclose(f);
	/* the fixture: 3 events, a cursor, 3 dead letters of r1 */
	unlink("fx.db");
	unlink("gw.db");
	assert_int_equal(
	    run(weir__cli_gateway, "oom.ndjson", gw_args), CLI_EXIT_INPUT);
	copy_file("gw.db", "fx.db");
	/* and its events as dead letters of r1, as a failing route leaves
	 * them (tests/cli/dlq_seed.c) */
	weir_store *st;
	char        why[256];
	assert_int_equal(
	    weir_store_open(&st, "fx.db", NULL, why, sizeof why), WEIR_OK);
	assert_int_equal(
	    weir_store_read_all(st, 1, 0, cmd_seed_dead, NULL), WEIR_OK);
	weir_store_destroy(st);
	return 0;
}

static void
test_gateway(void **state)
{
	(void) state;
	cmd_case k = { weir__cli_gateway, gw_args, "oom.ndjson", NULL, "gw.db",
		0, CLI_EXIT_INPUT };
	oom_loop(&k);
}

/* A [bridge] value out of range: the run that finds which entry it is
 * (a bridge config per entry) may fail to make one; it then blames the
 * values as a whole, without a line. */
static void
test_bad_bridge_value(void **state)
{
	(void) state;
	static const char *const args[] = { "gateway", "-c", "oombad.ini",
		NULL };
	FILE                    *f      = fopen("oombad.ini", "w");
	assert_non_null(f);
	fputs("[store]\npath = gwbad.db\n[bridge]\nqueue_capacity = 8\n"
	      "window = 0\n[route r1]\npattern = o.>\nscheme = mem\n"
	      "dest = out\n",
	    f);
	fclose(f);
	cmd_case k = { weir__cli_gateway, args, NULL, NULL, "gwbad.db", 0,
		CLI_EXIT_INPUT };
	oom_loop(&k);
}

static void
test_readers(void **state)
{
	(void) state;
	const cmd_case k[] = {
		{ weir__cli_tail, tail_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_replay, replay_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_stats, stats_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_stats, watch_args, NULL, NULL, NULL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof k / sizeof *k; i++)
		oom_loop(&k[i]);
}

/* A gateway's stats socket answering every client with its JSON: a
 * child process, so that its descriptors are not counted as the
 * command's (the loop checks that a failed run leaks none). */
static pid_t
stats_server(const char *path)
{
	struct sockaddr_un a  = { .sun_family = AF_UNIX };
	int                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char json[] =
		    "{\"gateway\":{\"lines\":2,\"topics\":{\"o.a\":2}}}\n";
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0 && write(c, json, sizeof json - 1) < 0)
				_exit(1);
			close(c);
		}
	}
	close(fd);
	return pid;
}

/* weir stats of a gateway's socket: the client's reading and parsing of
 * the answer under allocation failure. */
static void
test_stats_socket(void **state)
{
	(void) state;
	static const char *const args[] = { "stats", "-S", "oom-stats.sock",
		NULL };
	pid_t                    pid    = stats_server("oom-stats.sock");
	cmd_case k = { weir__cli_stats, args, NULL, NULL, NULL, 1, 0 };
	oom_loop(&k);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	unlink("oom-stats.sock");
}

static void
test_replay_to_bus(void **state)
{
	(void) state;
	cmd_case k = { weir__cli_replay, bus_args, NULL, NULL, NULL, 0, 0 };
	oom_loop(&k);
}

static void
test_dlq(void **state)
{
	(void) state;
	const cmd_case k[] = {
		{ weir__cli_dlq, list_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_dlq, show_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_dlq, retry_args, NULL, "fx.db", "rt.db", 1, 0 },
		{ weir__cli_dlq, purge_args, NULL, "fx.db", "rt.db", 1, 0 },
	};
	for (size_t i = 0; i < sizeof k / sizeof *k; i++)
		oom_loop(&k[i]);
}

/* pthread_create failing, the n-th call for n = 1, 2, ...: a replay
 * without its guard thread still replays everything (SIGINT then stops
 * it at the next event); a store or bridge without its thread says so. */
static void
test_threads(void **state)
{
	(void) state;
	const cmd_case k[] = {
		{ weir__cli_replay, replay_args, NULL, NULL, NULL, 1, 0 },
		{ weir__cli_replay, bus_args, NULL, NULL, NULL, 0, 0 },
		{ weir__cli_gateway, gw_args, "oom.ndjson", NULL, "gw.db", 0,
		    CLI_EXIT_INPUT },
	};
	arm_threads = 1;
	for (size_t i = 0; i < sizeof k / sizeof *k; i++)
		oom_loop(&k[i]);
	arm_threads = 0;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	json_set_alloc_funcs(lf_json_malloc, lf_json_free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway),
		cmocka_unit_test(test_bad_bridge_value),
		cmocka_unit_test(test_readers),
		cmocka_unit_test(test_stats_socket),
		cmocka_unit_test(test_replay_to_bus),
		cmocka_unit_test(test_dlq),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
