/*
 * Logging a bus: every matching published event reaches the log; when
 * the writer falls behind, the subscription's policy applies, counted.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fixture.h"
#include "store/writer.h"

// Attaches with a config of @p capacity and @p policy; the config is
// destroyed at once (it is cloned at attach).
static weir_err
attach(weir_store_attachment **a, weir_store *st, weir_bus *bus,
    const char *pattern, size_t capacity, weir_policy policy,
    int64_t timeout_ms)
{
	weir_store_attach_config *cfg;
	assert_weir_ok(weir_store_attach_config_create(&cfg));
	assert_weir_ok(weir_store_attach_config_set_capacity(cfg, capacity));
	assert_weir_ok(
	    weir_store_attach_config_set_policy(cfg, policy, timeout_ms));
	weir_err rv = weir_store_attach(a, st, bus, pattern, cfg);
	weir_store_attach_config_destroy(cfg);
	return rv;
}

static void
test_logs_matching_events(void **state)
{
	fx                    *f = *state;
	weir_bus              *bus;
	weir_store_attachment *a;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    attach(&a, f->st, bus, "orders.>", 1024, WEIR_POLICY_BLOCK, -1));
	for (int i = 0; i < 500; i++) {
		char text[16];
		snprintf(text, sizeof(text), "%d", i);
		assert_weir_ok(weir_publish(bus,
		    i % 5 ? "orders.eu.created" : "users.signup", text,
		    strlen(text), 0, NULL));
	}
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	weir_store_detach(a);
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, 400);
	assert_string_equal(g.payload[0], "1");
	assert_string_equal(g.payload[3], "4");
	assert_string_equal(g.payload[4], "6");
	// Stats while attached.
	assert_weir_ok(attach(&a, f->st, bus, ">", 16, WEIR_POLICY_BLOCK, -1));
	assert_weir_ok(weir_publish(bus, "x.y", "z", 1, 0, NULL));
	// The commit may be counted before the loop counts the handler call
	// as delivered: wait for both.
	wt_wait_until(weir_store_attach_stats_get(a, &s) == WEIR_OK &&
	    s.appended == 1 && s.subscr.delivered == 1);
	assert_int_equal(s.appended, 1);
	assert_int_equal(s.subscr.delivered, 1);
	assert_int_equal(s.failed, 0);
	weir_store_detach(a);
	weir_bus_destroy(bus);
}

static void
reopen_small_queue(fx *f)
{
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_batch(cfg, 1, 1));
	assert_weir_ok(weir_store_config_set_durability(
	    cfg, WEIR_STORE_DURABILITY_NORMAL));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
}

static void
run_behind(fx *f, weir_policy policy, int64_t timeout_ms, weir_err shed)
{
	weir_bus              *bus;
	weir_store_attachment *a;
	fx_gate                g;
	int                    ok = 0, refused = 0;
	reopen_small_queue(f);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(attach(&a, f->st, bus, ">", 4, policy, timeout_ms));
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 50; i++) {
		weir_err rv = weir_publish(bus, "load.shed", "x", 1, 0, NULL);
		if (rv == WEIR_OK) {
			ok++;
		} else {
			assert_weir_err(rv, shed);
			refused++;
		}
	}
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	assert_weir_ok(weir_store_attach_stats_get(a, &s));
	assert_true(refused > 0);
	assert_int_equal(policy == WEIR_POLICY_REJECT ? s.subscr.rejected
	                                              : s.subscr.timed_out,
	    (uint64_t) refused);
	fx_gate_open(&g);
	weir_store_detach(a);
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, (uint64_t) ok); // every accepted event logged
	weir_bus_destroy(bus);
}

static void
test_writer_behind_reject(void **state)
{
	run_behind(*state, WEIR_POLICY_REJECT, 0, WEIR_EFULL);
}

static void
test_writer_behind_block(void **state)
{
	run_behind(*state, WEIR_POLICY_BLOCK, 5, WEIR_ETIMEDOUT);
}

// Replaying the log into a bus that the same store logs writes nothing
// twice: appends are idempotent on the event id.
static void
test_replay_into_logged_bus(void **state)
{
	fx                    *f = *state;
	weir_bus              *bus;
	weir_store_attachment *a;
	uint64_t               n, last;
	for (int i = 0; i < 50; i++) {
		fx_append(f->st, "orders.created", "x");
	}
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(attach(&a, f->st, bus, ">", 64, WEIR_POLICY_BLOCK, -1));
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_PUBLISH,
		.bus                        = bus };
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 50);
	weir_store_detach(a);
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 50);
	weir_bus_destroy(bus);
}

static void
test_bad_attach(void **state)
{
	fx                    *f = *state;
	weir_bus              *bus;
	weir_store_attachment *a;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_err(
	    attach(&a, f->st, bus, "a..b", 8, WEIR_POLICY_BLOCK, -1),
	    WEIR_EBADPATTERN);
	assert_null(a);
	weir_store_attach_config *cfg;
	assert_weir_ok(weir_store_attach_config_create(&cfg));
	assert_weir_err(
	    weir_store_attach_config_set_capacity(cfg, 0), WEIR_EINVAL);
	assert_weir_err(weir_store_attach_config_set_policy(
	                    cfg, WEIR_POLICY_COALESCE + 1, 0),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_policy(cfg, WEIR_POLICY_BLOCK, -2),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_name(cfg, ""), WEIR_EINVAL);
	weir_store_attach_config_destroy(cfg);
	assert_weir_err(
	    weir_store_attach(NULL, f->st, bus, ">", NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach(&a, NULL, bus, ">", NULL), WEIR_EINVAL);
	assert_null(a);
	assert_weir_err(
	    weir_store_attach(&a, f->st, NULL, ">", NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach(&a, f->st, bus, NULL, NULL), WEIR_EINVAL);
	assert_null(a);
	weir_store_close(f->st);
	assert_weir_err(attach(&a, f->st, bus, ">", 8, WEIR_POLICY_BLOCK, -1),
	    WEIR_ECLOSED);
	weir_store_detach(NULL);
	weir_bus_destroy(bus);
}

// A NULL config means the defaults; a config's name names the
// subscription in the bus's stats, and the config is not needed after
// attach (it was cloned).
static void
test_config_defaults_and_name(void **state)
{
	fx                       *f = *state;
	weir_bus                 *bus;
	weir_store_attachment    *a, *b;
	weir_store_attach_config *cfg;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_store_attach(&a, f->st, bus, "x.>", NULL));
	assert_weir_ok(weir_store_attach_config_create(&cfg));
	assert_weir_ok(weir_store_attach_config_set_name(cfg, "audit-log"));
	assert_weir_ok(weir_store_attach(&b, f->st, bus, "y.>", cfg));
	weir_store_attach_config_destroy(cfg);
	char *json = weir_bus_stats_json(bus);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"store:x.>\""));
	assert_non_null(strstr(json, "\"audit-log\""));
	weir_free(json);
	assert_weir_ok(weir_publish(bus, "x.1", "a", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "y.1", "b", 1, 0, NULL));
	weir_store_detach(a);
	weir_store_detach(b);
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 2);
	weir_bus_destroy(bus);
}

// Stats sizes (API rule 4): below the 1.0 size is refused; of a larger
// struct from a newer caller, only the bytes this weir knows are written.
static void
test_stats_size(void **state)
{
	fx                    *f = *state;
	weir_bus              *bus;
	weir_store_attachment *a;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_store_attach(&a, f->st, bus, ">", NULL));
	weir_store_attach_stats s = { 0 };
	assert_weir_err(weir_store_attach_stats_get(a, &s), WEIR_EINVAL);
	s.size = sizeof(s) - 1;
	assert_weir_err(weir_store_attach_stats_get(a, &s), WEIR_EINVAL);
	struct {
		weir_store_attach_stats s;
		uint64_t                later;
	} big;
	memset(&big, 0xff, sizeof(big));
	big.s.size = sizeof(big);
	assert_weir_ok(weir_store_attach_stats_get(a, &big.s));
	assert_int_equal(big.s.size, sizeof(big));
	assert_int_equal(big.s.appended, 0);
	assert_int_equal(big.later, UINT64_MAX); // not this weir's to write
	weir_store_detach(a);
	weir_bus_destroy(bus);
}

// Events the store refuses, at once (too big) or at commit (a trigger
// aborts the insert), are counted as failed, never as appended.
static void
test_refused_events_counted(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_event(cfg, 256));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	weir_bus              *bus;
	weir_store_attachment *a;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_store_attach(&a, f->st, bus, "r.>", NULL));
	char *big = wt_filled(300, 'b');
	assert_weir_ok(weir_publish(bus, "r.big", big, 300, 0, NULL));
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	wt_wait_until(
	    weir_store_attach_stats_get(a, &s) == WEIR_OK && s.failed == 1);
	assert_int_equal(s.appended, 0);
	fx_sql(f,
	    "CREATE TRIGGER no_events BEFORE INSERT ON events"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	assert_weir_ok(weir_publish(bus, "r.small", "s", 1, 0, NULL));
	wt_wait_until(
	    weir_store_attach_stats_get(a, &s) == WEIR_OK && s.failed == 2);
	assert_int_equal(s.appended, 0);
	fx_sql(f, "DROP TRIGGER no_events");
	assert_weir_ok(weir_publish(bus, "r.small", "s", 1, 0, NULL));
	wt_wait_until(
	    weir_store_attach_stats_get(a, &s) == WEIR_OK && s.appended == 1);
	assert_int_equal(s.failed, 2);
	assert_weir_err(weir_store_attach_stats_get(NULL, &s), WEIR_EINVAL);
	assert_weir_err(weir_store_attach_stats_get(a, NULL), WEIR_EINVAL);
	weir_store_detach(a);
	weir_bus_destroy(bus);
	free(big);
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 1);
}

// Is thread @p tid of this process asleep (state S in /proc)?
static int
thread_sleeping(int tid)
{
	char  path[64], line[256];
	FILE *fp;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((fp = fopen(path, "r")) == NULL) {
		return 0;
	}
	char *got = fgets(line, sizeof(line), fp);
	fclose(fp);
	char *end = got ? strrchr(line, ')') : NULL;
	return end != NULL && end[1] == ' ' && end[2] == 'S';
}

typedef struct opener {
	fx_gate *g;
	int      tid; // the thread detaching
	int      lost;
} opener;

// Opens the gate once the detaching thread sleeps (in the drain).
static void *
opener_main(void *arg)
{
	opener *o   = arg;
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (!thread_sleeping(o->tid) && !(o->lost = wt_now_ms() > end)) {
		wt_sleep_ms(1);
	}
	fx_gate_open(o->g);
	return NULL;
}

// Detaching while events wait in the attachment's queue (the writer is
// held, so the handler waits for room in the store's queue): detach
// drains them into the store first; none is dropped.
static void
test_detach_drains(void **state)
{
	fx                    *f = *state;
	weir_bus              *bus;
	weir_store_attachment *a;
	fx_gate                g;
	opener    o = { .g = &g, .tid = (int) syscall(SYS_gettid) };
	pthread_t oth;
	reopen_small_queue(f);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(attach(&a, f->st, bus, ">", 16, WEIR_POLICY_BLOCK, 0));
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 5; i++) {
		assert_weir_ok(weir_publish(bus, "drain.x", "d", 1, 0, NULL));
	}
	// One in the store's queue, one in the handler, three waiting.
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	wt_wait_until(weir_store_attach_stats_get(a, &s) == WEIR_OK &&
	    s.subscr.queued == 3);
	assert_int_equal(pthread_create(&oth, NULL, opener_main, &o), 0);
	weir_store_detach(a);
	assert_int_equal(pthread_join(oth, NULL), 0);
	assert_int_equal(o.lost, 0);
	assert_weir_ok(weir_store_flush(f->st));
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 5);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_logs_matching_events, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_writer_behind_reject, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_writer_behind_block, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_into_logged_bus, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_attach, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_config_defaults_and_name, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_stats_size, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_events_counted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_detach_drains, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
