/*
 * Holding the store's writer thread, for tests of what waits on a
 * commit (the store's and the bridge's tests): fx_gate_close() parks
 * the writer inside a call, so that what is queued meanwhile waits (and
 * goes in one batch); fx_gate_open() lets it go and joins the thread
 * that queued the call.
 */
#ifndef WEIR_STORE_GATE_H
#define WEIR_STORE_GATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weir_test.h"
#include <weir/store.h>

#include "store/writer.h"

typedef struct fx_gate {
	weir_store *st;
	atomic_int  entered;
	atomic_int  open;
	pthread_t   th;
} fx_gate;

static inline weir_err
fx_gate_wait(weir_store *st, sqlite3 *db, void *arg)
{
	fx_gate *g = arg;
	(void) st;
	(void) db;
	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open)) {
		wt_sleep_ms(1);
	}
	return WEIR_OK;
}

static inline void *
fx_gate_main(void *arg)
{
	fx_gate *g = arg;
	return (void *) (intptr_t) weir__writer_call(g->st, fx_gate_wait, g);
}

static inline void
fx_gate_close(fx_gate *g, weir_store *st)
{
	g->st = st;
	atomic_store(&g->entered, 0);
	atomic_store(&g->open, 0);
	assert_int_equal(pthread_create(&g->th, NULL, fx_gate_main, g), 0);
	wt_wait_until(atomic_load(&g->entered));
}

static inline void
fx_gate_open(fx_gate *g)
{
	void *res;
	atomic_store(&g->open, 1);
	assert_int_equal(pthread_join(g->th, &res), 0);
	assert_int_equal((intptr_t) res, WEIR_OK);
}

#endif
