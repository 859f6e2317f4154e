/*
 * Group commit under concurrency: many appenders share transactions,
 * seq is dense and unique, and a concurrent reader never sees a gap.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fixture.h"
#include "store/store.h"

#define THREADS 8

static int
scale(int n)
{
	const char *s = getenv("WEIR_TEST_SCALE"); // e.g. 0.1 under TSan
	double      k = s != NULL ? atof(s) : 1.0;
	int         v = (int) (n * (k > 0 ? k : 1.0));
	return v > 10 ? v : 10;
}

typedef struct group {
	weir_store *st;
	int         per_thread;
	int         nowait;
	uint64_t   *seqs; // THREADS * per_thread
	atomic_int  next;
	atomic_int  acked;
	atomic_int  stop;
	int         reader_checks;
	int         reader_gaps;
} group;

typedef struct worker {
	group *g;
	int    index;
} worker;

static void
on_done(weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	group *g = arg;
	(void) st;
	(void) version;
	if (err == WEIR_OK && seq > 0) {
		atomic_fetch_add(&g->acked, 1);
	}
}

static void *
appender(void *arg)
{
	worker *w = arg;
	group  *g = w->g;
	for (int i = 0; i < g->per_thread; i++) {
		weir_event            *ev  = fx_event("load.test", "payload");
		weir_store_append_opts opt = { .size = sizeof(
			                           weir_store_append_opts) };
		uint64_t               seq = 0;
		if (g->nowait && i % 2) {
			opt = (weir_store_append_opts) {
				.size  = sizeof(weir_store_append_opts),
				.flags = WEIR_STORE_APPEND_NOWAIT,
				.done  = on_done,
				.arg   = g
			};
		}
		weir_err rv = weir_store_append(g->st, ev, &opt, &seq, NULL);
		weir_event_release(ev);
		if (rv != WEIR_OK) {
			return (void *) 1;
		}
		g->seqs[w->index * g->per_thread + i] = seq;
	}
	return NULL;
}

typedef struct gapcheck {
	uint64_t expect;
	int      gaps;
} gapcheck;

static weir_err
check_dense(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	gapcheck *c = arg;
	(void) st;
	(void) stream;
	(void) version;
	c->gaps += weir_event_seq(ev) != c->expect;
	c->expect++;
	return WEIR_OK;
}

static void *
reader(void *arg)
{
	group *g = arg;
	while (!atomic_load(&g->stop)) {
		gapcheck c = { .expect = 1 };
		if (weir_store_read_all(g->st, 0, 0, check_dense, &c) != 0) {
			g->reader_gaps++;
		}
		g->reader_gaps += c.gaps;
		g->reader_checks++;
	}
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

static void
run_group(fx *f, int per_thread, int nowait)
{
	group g = { .st = f->st, .per_thread = per_thread, .nowait = nowait };
	pthread_t th[THREADS], rd;
	worker    w[THREADS];
	g.seqs = calloc(THREADS * (size_t) per_thread, sizeof(uint64_t));
	assert_int_equal(pthread_create(&rd, NULL, reader, &g), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker) { &g, i };
		assert_int_equal(
		    pthread_create(&th[i], NULL, appender, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *res;
		pthread_join(th[i], &res);
		assert_null(res);
	}
	assert_weir_ok(weir_store_flush(f->st));
	atomic_store(&g.stop, 1);
	pthread_join(rd, NULL);
	assert_int_equal(g.reader_gaps, 0);
	assert_true(g.reader_checks > 0);
	size_t   total = THREADS * (size_t) per_thread, synced = 0;
	uint64_t last;
	qsort(g.seqs, total, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < total; i++) {
		if (g.seqs[i] != 0) { // sync appends: unique seqs
			assert_true(synced == 0 || g.seqs[i] > g.seqs[i - 1]);
			synced++;
		}
	}
	assert_int_equal(synced + (size_t) atomic_load(&g.acked), total);
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, total);
	gapcheck c = { .expect = 1 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, check_dense, &c));
	assert_int_equal(c.gaps, 0);
	assert_int_equal(c.expect, total + 1);
	free(g.seqs);
}

static void
test_sync_appenders(void **state)
{
	run_group(*state, scale(1000), 0);
}

static void
test_mixed_appenders(void **state)
{
	run_group(*state, scale(1000), 1);
}

// With FULL durability every commit waits for the disk, so appenders
// that arrive meanwhile must share the next transaction.
static void
test_commits_are_shared(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(
	    weir_store_config_set_durability(cfg, WEIR_STORE_DURABILITY_FULL));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	uint64_t before = atomic_load(&f->st->writer.commits);
	int      n      = scale(200);
	run_group(f, n, 0);
	uint64_t commits = atomic_load(&f->st->writer.commits) - before;
	print_message("%d appends in %llu commits\n", THREADS * n,
	    (unsigned long long) commits);
	assert_true(commits < (uint64_t) (THREADS * n) / 2);
}

// A tiny writer queue: appenders block instead of failing.
static void
test_backpressure(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_batch(cfg, 3, 2));
	assert_weir_ok(weir_store_config_set_durability(
	    cfg, WEIR_STORE_DURABILITY_NORMAL));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	run_group(f, scale(300), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_sync_appenders, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_mixed_appenders, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_commits_are_shared, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_backpressure, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
