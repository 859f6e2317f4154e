/*
 * The weir tool's subcommands in-process under faults the shell tests
 * cannot arrange: a broker that takes messages and never answers (the
 * mem backend with its poll() answering nothing, through
 * -Wl,--wrap=weir_backend_mem), so that `dlq retry` finds the route's
 * queues full and the bus refuses its publish; and the gateway's stats
 * JSON failing when SIGUSR1 asks for it (-Wl,--wrap=weir__gw_stats_json
 * makes the first call fail as out of memory does).
 */
#include "weir_test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <weir/bridge.h>
#include <weir/store.h>

#include "cli/cli.h"
#include "cli/gateway.h"
#include "cmd_run.h"
#include "libc_fail.h"

/* main.c is not linked (it has main): its one shared text. */
const char weir__cli_exit_help[] = "exit codes: (cmd_fault_test)\n";

/* ---- a mem backend that never answers ------------------------------ */

const weir_backend_ops *__real_weir_backend_mem(void);
const weir_backend_ops *__wrap_weir_backend_mem(void);

static weir_backend_ops mute_ops;
static _Atomic long     mute_polls;

static void
mute_poll(void *state, int timeout_ms)
{
	(void) state;
	mute_polls++;
	wt_sleep_ms(timeout_ms > 0 ? 1 : 0);
}

const weir_backend_ops *
__wrap_weir_backend_mem(void)
{
	mute_ops      = *__real_weir_backend_mem();
	mute_ops.poll = mute_poll;
	return &mute_ops;
}

/* ---- the gateway's stats JSON, failing at its first call ----------- */

char *__real_weir__gw_stats_json(gateway *gw);
char *__wrap_weir__gw_stats_json(gateway *gw);

static _Atomic long json_calls;

char *
__wrap_weir__gw_stats_json(gateway *gw)
{
	if (json_calls++ == 0)
		return NULL; /* as when an allocation fails */
	return __real_weir__gw_stats_json(gw);
}

/* ---- tests --------------------------------------------------------- */

static weir_err
count_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	assert_int_equal(dl->attempts, 2);
	(*(int *) arg)++;
	return WEIR_OK;
}

/* Six dead letters retried on a route whose broker never answers, with
 * every queue of one event: the first ones are held (the relay's
 * window, the direct ring, the route's hand, the bus queue) and each
 * waits out --timeout; then the bus refuses the rest at once (REJECT).
 * None is delivered; all six stay, each with a second attempt. */
static void
test_dlq_retry_unanswered(void **state)
{
	(void) state;
	static const char *const gw_args[]    = { "gateway", "-s", "mute.db",
		   NULL };
	static const char *const retry_args[] = { "dlq", "retry", "-s",
		"mute.db", "-c", "mute.ini", "--timeout", "0.05", NULL };
	FILE                    *f            = fopen("mute.ndjson", "w");
	assert_non_null(f);
	for (int i = 0; i < 6; i++)
		fprintf(f, "{\"topic\":\"d.%d\",\"payload\":\"%d\"}\n", i, i);
	fclose(f);
	f = fopen("mute.ini", "w");
	assert_non_null(f);
	fputs("[bridge]\npolicy = reject\nqueue_capacity = 1\n"
	      "direct_capacity = 1\nwindow = 1\n[mem]\n[route r1]\n"
	      "pattern = d.>\nscheme = mem\ndest = out\n",
	    f);
	fclose(f);
	unlink("mute.db");
	assert_int_equal(run(weir__cli_gateway, "mute.ndjson", gw_args), 0);
	weir_store *st;
	char        why[256];
	assert_weir_ok(weir_store_open(&st, "mute.db", NULL, why, sizeof why));
	assert_weir_ok(weir_store_read_all(st, 1, 0, cmd_seed_dead, NULL));
	weir_store_destroy(st);

	mute_polls = 0;
	assert_int_equal(
	    run(weir__cli_dlq, NULL, retry_args), CLI_EXIT_PARTIAL);
	char *err = slurp("cmd.err");
	if (strstr(err, "route r1: 0 delivered, 6 failed") == NULL)
		fail_msg("stderr: %s", err);
	free(err);
	assert_true(mute_polls > 0); /* the route did run, unanswered */
	int n = 0;
	assert_weir_ok(weir_store_open(&st, "mute.db", NULL, why, sizeof why));
	assert_weir_ok(weir_store_dead_list(st, "r1", 0, count_dead, &n));
	weir_store_destroy(st);
	assert_int_equal(n, 6);
}

typedef struct usr1 {
	int lost; /* a wait timed out */
} usr1;

/* Waits up to WT_WAIT_MS for @p cond. */
#define USR1_WAIT(u, cond)                                           \
	do {                                                         \
		int64_t end_ = wt_now_ms() + WT_WAIT_MS;             \
		while (!(cond) && !((u)->lost = wt_now_ms() > end_)) \
			wt_sleep_ms(1);                              \
	} while (0)

/* The gateway's other side: once it is up (its stats socket exists),
 * two SIGUSR1, each answered before the next; then one line, and EOF. */
static void *
usr1_main(void *arg)
{
	usr1 *u  = arg;
	int   fd = open("usr1.fifo", O_WRONLY); /* until the gateway reads */
	struct stat sb;
	USR1_WAIT(u, stat("usr1-stats.sock", &sb) == 0);
	kill(getpid(), SIGUSR1);
	USR1_WAIT(u, json_calls >= 1);
	kill(getpid(), SIGUSR1);
	USR1_WAIT(u, json_calls >= 2);
	const char *line = "{\"topic\":\"u.a\",\"payload\":\"1\"}\n";
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			u->lost = 1;
		close(fd);
	}
	return NULL;
}

/* SIGUSR1 while the stats JSON cannot be made prints nothing (no crash,
 * no partial text); the next SIGUSR1 prints the JSON; the gateway goes
 * on and stores the line. */
static void
test_gateway_usr1_json_fails(void **state)
{
	(void) state;
	static const char *const args[] = { "gateway", "-s", "usr1.db",
		"--stats-socket", "usr1-stats.sock", NULL };
	unlink("usr1.db");
	unlink("usr1-stats.sock");
	unlink("usr1.fifo");
	assert_int_equal(mkfifo("usr1.fifo", 0600), 0);
	usr1      u = { 0 };
	pthread_t th;
	json_calls = 0;
	assert_int_equal(pthread_create(&th, NULL, usr1_main, &u), 0);
	int rc = run(weir__cli_gateway, "usr1.fifo", args);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(u.lost, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(json_calls, 2);
	char *err = slurp("cmd.err");
	char *one = strstr(err, "{\"gateway\":");
	if (one == NULL || strstr(one + 1, "{\"gateway\":") != NULL)
		fail_msg("want one stats JSON on stderr: %s", err);
	assert_non_null(strstr(err, "1 lines, 1 stored"));
	free(err);
	unlink("usr1.fifo");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	/* a directory of its own: cmd_oom_test, which ctest may run at the
	 * same time, writes cmd.out and cmd.err in the build directory */
	if ((mkdir("cmd_fault.d", 0700) != 0 && errno != EEXIST) ||
	    chdir("cmd_fault.d") != 0) {
		perror("cmd_fault.d");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlq_retry_unanswered),
		cmocka_unit_test(test_gateway_usr1_json_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
