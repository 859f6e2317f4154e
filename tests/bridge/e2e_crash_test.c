/*
 * The relaying process killed with SIGKILL 10 times mid-stream and
 * restarted over the same store, with real brokers: 0 events lost, and
 * the duplicates absorbed (JetStream holds exactly the events, thanks
 * to Nats-Msg-Id; a Kafka consumer de-duplicating by ce_id counts
 * exactly the events).
 *
 * What must arrive: the events in the store. The child publishes on the
 * bus and the bridge's intake appends them (the outbox); an event the
 * process accepted but had not yet appended when it was killed was
 * never acknowledged by the store and is not owed (docs/bridge.md,
 * guarantees). The child publishes until the store holds N events, so
 * the final count is N either way.
 *
 * The child is this program again (fork + exec with "child" arguments:
 * a fresh process, as the broker clients' threads do not survive a
 * fork). It reports its progress, stored events plus the route's cursor
 * (both survive a kill, so the sum only grows), in a small file; the
 * parent kills it once the progress passes a random point of the next
 * tenth of the way.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <weir/kafka.h>
#include <weir/nats.h>

#include "brokers.h"

#define N 20000
#define KILLS 10
#define CHILD_DEADLINE_MS 120000

/* ---- the child ------------------------------------------------------ */

static void
crash_progress(int fd, uint64_t v)
{
	if (pwrite(fd, &v, sizeof v, 0) != (ssize_t) sizeof v)
		_exit(5);
}

/* argv: child kafka|nats <dir> <addr> <dest> [<stream> <subjects>] */
static int
crash_child(int argc, char **argv)
{
	int kafka = strcmp(argv[2], "kafka") == 0;
	if (argc < (kafka ? 6 : 8))
		return 2;
	bt t;
	memset(&t, 0, sizeof t);
	snprintf(t.dir, sizeof t.dir, "%s", argv[3]);
	snprintf(t.path, sizeof t.path, "%s/log.db", t.dir);
	char progress[700];
	snprintf(progress, sizeof progress, "%s/progress", t.dir);
	int fd = open(progress, O_WRONLY);
	bt_open_store(&t);
	const char *kv_kafka[] = { "bridge.source", BK_SOURCE, "bridge.window",
		"256", "kafka.bootstrap.servers", argv[4], "kafka.linger.ms",
		"5", NULL };
	const char *kv_nats[]  = { "bridge.source", BK_SOURCE, "bridge.window",
		 "256", "nats.url", argv[4], "nats.stream",
                kafka ? "" : argv[6], "nats.stream.subjects",
                kafka ? "" : argv[7], "nats.stream.duplicate_window_ms",
		 "600000", NULL };
	weir_bridge_config *cfg;
	weir_bridge_config_create(&cfg);
	for (const char *const *kv = kafka ? kv_kafka : kv_nats; *kv; kv += 2)
		weir_bridge_config_set_str(cfg, kv[0], kv[1]);
	bt_bridge(&t, cfg);
	weir_bridge_config_destroy(cfg);
	if (weir_bridge_register(
	        t.br, kafka ? weir_backend_kafka() : weir_backend_nats()) !=
	        WEIR_OK ||
	    weir_bridge_route_add(t.br, "crash", "e2e.*.created",
	        kafka ? "kafka" : "nats", argv[5], "{2}", NULL) != WEIR_OK ||
	    weir_bridge_start(t.br) != WEIR_OK) {
		fprintf(stderr, "child: %s\n", weir_bridge_errmsg(t.br));
		_exit(3);
	}
	uint64_t i = bt_stored(t.st);
	for (; i < N; i++) {
		bk_publish(t.bus, i);
		if (i % 256 == 0) { /* keep the store close behind */
			weir_store_flush(t.st);
			crash_progress(fd, i + bt_stats(&t, "crash").cursor);
		}
	}
	weir_store_flush(t.st);
	int64_t end = wt_now_ms() + CHILD_DEADLINE_MS;
	for (;;) {
		weir_bridge_route_stats s = bt_stats(&t, "crash");
		crash_progress(fd, N + s.cursor);
		if (s.backlog == 0 && s.lag_events == 0)
			break;
		if (wt_now_ms() > end)
			_exit(4);
		usleep(10000);
	}
	_exit(bt_stored(t.st) == N ? 0 : 6);
}

/* ---- the parent ----------------------------------------------------- */

typedef struct crash {
	bt           t;
	char         progress[700];
	char *const *argv; /* the child's */
} crash;

static uint64_t
crash_read_progress(crash *c)
{
	uint64_t v  = 0;
	int      fd = open(c->progress, O_RDONLY);
	if (fd >= 0 && pread(fd, &v, sizeof v, 0) != (ssize_t) sizeof v)
		v = 0;
	if (fd >= 0)
		close(fd);
	return v;
}

/* Runs a child; kills it once its progress reaches @p kill_at (0:
 * never). Returns its exit status, or -1 if it was killed. */
static int
crash_run(crash *c, uint64_t kill_at)
{
	int fd = open(c->progress, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv("/proc/self/exe", c->argv);
		_exit(127);
	}
	int     st  = 0;
	int64_t end = wt_now_ms() + CHILD_DEADLINE_MS;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (wt_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("the child did not finish in time");
		}
		if (kill_at > 0 && crash_read_progress(c) >= kill_at) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(2000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

/* Ten kills at random points of successive tenths of the way (stored
 * events plus cursor: 0 to 2N), then a run to the end. */
static void
crash_kill_ten_times(crash *c)
{
	unsigned seed = (unsigned) getpid() ^ (unsigned) wt_now_ms();
	print_message("seed %u\n", seed);
	srand(seed);
	int      killed = 0;
	uint64_t span   = 2 * N * 9 / 10 / KILLS;
	for (int k = 0; k < KILLS; k++) {
		uint64_t at = k * span + 1 + (uint64_t) rand() % span;
		int      rc = crash_run(c, at);
		assert_true(rc == -1 || rc == 0);
		killed += rc == -1;
	}
	assert_int_equal(crash_run(c, 0), 0);
	print_message("killed %d times\n", killed);
	assert_int_equal(killed, KILLS);
	bt_open_store(&c->t);
}

static void
test_sigkill_kafka(void **state)
{
	(void) state;
	crash       c = { 0 };
	char        servers[256], topic[128];
	const char *bootstrap;
	BK_NEED(bootstrap, "WEIR_KAFKA_BOOTSTRAP", servers);
	bk_unique(topic, sizeof topic, "weir-e2e-crash-");
	bt_dir(&c.t);
	snprintf(c.progress, sizeof c.progress, "%s/progress", c.t.dir);
	char *argv[] = { "e2e_crash", "child", "kafka", c.t.dir,
		(char *) bootstrap, topic, NULL };
	c.argv       = argv;
	crash_kill_ten_times(&c);
	bk_check chk;
	bk_check_init(&chk, c.t.st, "ce_");
	assert_int_equal(chk.n, N);
	bk_kafka_read(&chk, bootstrap, topic);
	bk_check_complete(&chk); /* de-duplicated by ce_id: exactly N */
	bk_check_fini(&chk);
	bt_close(&c.t);
}

static void
test_sigkill_nats(void **state)
{
	(void) state;
	crash       c = { 0 };
	char        urlbuf[256], stream[64], prefix[96], subjects[128];
	char        dest[128];
	const char *url;
	BK_NEED(url, "WEIR_NATS_URL", urlbuf);
	bk_unique(stream, sizeof stream, "WEIRCRASH_");
	bk_unique(prefix, sizeof prefix, "weircrash.s");
	snprintf(subjects, sizeof subjects, "%s.>", prefix);
	snprintf(dest, sizeof dest, "%s.{2}", prefix);
	bt_dir(&c.t);
	snprintf(c.progress, sizeof c.progress, "%s/progress", c.t.dir);
	char *argv[] = { "e2e_crash", "child", "nats", c.t.dir, (char *) url,
		dest, stream, subjects, NULL };
	c.argv       = argv;
	crash_kill_ten_times(&c);
	/* Nats-Msg-Id absorbed every re-send: exactly N messages. */
	assert_int_equal(bk_nats_stream_msgs(url, stream), N);
	bk_check chk;
	bk_check_init(&chk, c.t.st, "ce-");
	assert_int_equal(chk.n, N);
	bk_nats_read(&chk, url, stream, subjects, N);
	bk_check_complete(&chk);
	assert_int_equal(chk.records, N);
	bk_check_fini(&chk);
	bk_nats_delete_stream(url, stream);
	bt_close(&c.t);
}

int
main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return crash_child(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_nats),
		cmocka_unit_test(test_sigkill_kafka),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
