/*
 * The pool of read connections (src/store/reader.c): it keeps up to
 * WEIR__READERS_KEEP idle connections. More reads at once than that
 * each get a connection of their own, all succeed, and the ones beyond
 * the pool's size are closed when returned (LeakSanitizer checks).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fixture.h"
#include "store/reader.h"

#define READERS (WEIR__READERS_KEEP + 4)

typedef struct crowd {
	weir_store *st;
	atomic_int  inside; // reads inside their callback
	atomic_int  lost;   // a read that waited too long for the others
	size_t      got[READERS];
	weir_err    rv[READERS];
} crowd;

typedef struct reader_arg {
	crowd *c;
	int    i;
} reader_arg;

// Waits, on its first event, until every read is inside its callback:
// then all READERS connections are out of the pool at once.
static weir_err
crowd_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	reader_arg *r = arg;
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	if (r->c->got[r->i]++ == 0) {
		atomic_fetch_add(&r->c->inside, 1);
		int64_t end = wt_now_ms() + WT_WAIT_MS;
		while (atomic_load(&r->c->inside) < READERS) {
			if (wt_now_ms() > end) {
				atomic_store(&r->c->lost, 1);
				break;
			}
			wt_sleep_ms(1);
		}
	}
	return WEIR_OK;
}

static void *
crowd_read(void *arg)
{
	reader_arg *r  = arg;
	r->c->rv[r->i] = weir_store_read_all(r->c->st, 0, 0, crowd_fn, r);
	return NULL;
}

static void
test_more_reads_than_pooled(void **state)
{
	fx        *f = *state;
	crowd      c = { .st = f->st };
	reader_arg args[READERS];
	pthread_t  th[READERS];
	for (int i = 0; i < 5; i++) {
		fx_append(f->st, "pool.x", "p");
	}
	for (int round = 0; round < 2; round++) {
		atomic_store(&c.inside, 0);
		memset(c.got, 0, sizeof(c.got));
		for (int i = 0; i < READERS; i++) {
			args[i] = (reader_arg) { &c, i };
			assert_int_equal(
			    pthread_create(&th[i], NULL, crowd_read, &args[i]),
			    0);
		}
		for (int i = 0; i < READERS; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_weir_ok(c.rv[i]);
			assert_int_equal(c.got[i], 5);
		}
		assert_int_equal(atomic_load(&c.lost), 0);
	}
	// The pool still serves single reads and appends after it.
	fx_got g = { 0 };
	fx_append(f->st, "pool.x", "last");
	assert_weir_ok(weir_store_read_all(f->st, 6, 0, fx_collect, &g));
	assert_int_equal(g.n, 1);
	assert_string_equal(g.payload[0], "last");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_more_reads_than_pooled, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
