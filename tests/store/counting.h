/*
 * Store callbacks that only count their calls into fx_calls: for tests
 * that check a refused call (bad arguments, a closed store) ran none.
 */
#ifndef WEIR_TESTS_STORE_COUNTING_H
#define WEIR_TESTS_STORE_COUNTING_H

#include <weir/store.h>

static int fx_calls;

static inline weir_err
fx_count_read(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	(void) arg;
	fx_calls++;
	return WEIR_OK;
}

static inline void
fx_count_cursor(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	(void) st;
	(void) name;
	(void) seq;
	(void) arg;
	fx_calls++;
}

static inline void
fx_count_snap(weir_store *st, const char *stream, int64_t version,
    const void *data, size_t len, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	(void) data;
	(void) len;
	(void) arg;
	fx_calls++;
}

static inline weir_err
fx_count_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(void) arg;
	fx_calls++;
	return WEIR_OK;
}

static inline void
fx_count_problem(weir_store *st, const weir_store_problem *p, void *arg)
{
	(void) st;
	(void) p;
	(void) arg;
	fx_calls++;
}

#endif /* WEIR_TESTS_STORE_COUNTING_H */
