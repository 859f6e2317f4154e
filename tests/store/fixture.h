/*
 * Helpers shared by the store tests: a fresh directory per test (on the
 * disk under the build tree, or $WEIR_TEST_DIR), stores and events.
 */
#ifndef WEIR_STORE_FIXTURE_H
#define WEIR_STORE_FIXTURE_H

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_gate.h"
#include "weir_test.h"
#include <weir/store.h>

#include "store/writer.h"

typedef struct fx {
	char        dir[512];
	char        path[600];
	weir_store *st;
} fx;

/* A new empty directory; its store path is dir/log.db. */
static inline void
fx_dir(fx *f)
{
	const char *base = getenv("WEIR_TEST_DIR");
	snprintf(f->dir, sizeof(f->dir), "%s/weir-store-XXXXXX",
	    base != NULL ? base : ".");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/log.db", f->dir);
}

static inline void
fx_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		return;
	}
	struct dirent *e;
	char           p[1200];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

static inline weir_store *
fx_open_cfg(fx *f, const weir_store_config *cfg)
{
	char     msg[256];
	weir_err rv = weir_store_open(&f->st, f->path, cfg, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		print_error(
		    "open %s: %s: %s\n", f->path, weir_err_name(rv), msg);
		fail();
	}
	return f->st;
}

/* A NORMAL-durability store: the tests need speed, not power safety. */
static inline weir_store *
fx_open(fx *f)
{
	weir_store_config *cfg;
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_durability(
	    cfg, WEIR_STORE_DURABILITY_NORMAL));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	return f->st;
}

static inline int
fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	fx_open(f);
	*state = f;
	return 0;
}

static inline int
fx_teardown(void **state)
{
	fx *f = *state;
	weir_store_destroy(f->st);
	fx_rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs @p sql on @p f's store file through a connection of its own
 * (beside an open store, or on a closed one): damage, triggers. */
static inline void
fx_sql(fx *f, const char *sql)
{
	sqlite3 *db;
	char    *err = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		print_error("%s: %s\n", sql, err);
		sqlite3_free(err);
		fail();
	}
	sqlite3_close(db);
}

/* An event on @p topic with payload @p text (and a fresh id). */
static inline weir_event *
fx_event(const char *topic, const char *text)
{
	weir_event     *ev;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = topic,
		.payload               = text,
		.payload_len           = text ? strlen(text) : 0 };
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

/* Appends and waits; returns the seq. */
static inline uint64_t
fx_append(weir_store *st, const char *topic, const char *text)
{
	weir_event *ev = fx_event(topic, text);
	uint64_t    seq;
	assert_weir_ok(weir_store_append(st, ev, NULL, &seq, NULL));
	weir_event_release(ev);
	return seq;
}

/* Collects what a read returns (up to 64 events). */
typedef struct fx_got {
	size_t   n;
	uint64_t seq[4096];
	int64_t  version[4096];
	char     payload[64][64];
	char     stream[64][32];
} fx_got;

static inline weir_err
fx_collect(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	fx_got *g = arg;
	size_t  len;
	(void) st;
	if (g->n >= 4096) {
		return WEIR_EFULL;
	}
	const void *p = weir_event_payload(ev, &len);
	if (g->n < 64) {
		snprintf(g->payload[g->n], 64, "%.*s", (int) len,
		    p ? (const char *) p : "");
		snprintf(g->stream[g->n], 32, "%s", stream ? stream : "");
	}
	g->seq[g->n]     = weir_event_seq(ev);
	g->version[g->n] = version;
	g->n++;
	return WEIR_OK;
}

/* ---- allocation-failure injection (oom_test, sqlite_oom_test) ------ */

/* Where failures are injected: weir's allocator hook (oom_test.c) or
 * SQLite's (sqlite_oom_test.c). */
typedef struct fx_inject {
	void (*arm)(long n);  /* from now on the n-th allocation fails */
	long (*disarm)(void); /* no more failures; allocations since arm */
} fx_inject;

typedef weir_err (*fx_inject_fn)(fx *f, void *arg);

/* The store still works after a failure: an append that reads back, or
 * (@p append 0) a read alone, for a function whose allocations would
 * grow with every probe appended (the check decodes every event). */
static inline void
fx_usable(fx *f, int append)
{
	uint64_t seq, last;
	fx_got   g = { 0 };
	if (!append) {
		assert_weir_ok(weir_store_last_seq(f->st, &last));
		assert_weir_ok(
		    weir_store_read_all(f->st, last, 0, fx_collect, &g));
		assert_int_equal(g.n, last > 0);
		return;
	}
	seq = fx_append(f->st, "probe.x", "p");
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(seq, last);
	assert_weir_ok(weir_store_read_all(f->st, seq, 0, fx_collect, &g));
	assert_int_equal(g.n, 1);
}

/* Runs @p fn with its n-th allocation failing, n = 1, 2, ..., until a
 * run makes fewer than n allocations (every path has been tried), and
 * returns how many runs failed. Every failure must be WEIR_ENOMEM and
 * leave the store usable (fx_usable, with @p append). A run may succeed
 * although an allocation failed (a cache falls back): the loop goes on.
 * @p sparse: past 64, n grows by an eighth each time (a call making
 * thousands of allocations). */
static inline int
fx_inject_loop(fx *f, const fx_inject *in, const char *what, fx_inject_fn fn,
    void *arg, int sparse, int append)
{
	int failures = 0;
	for (long n = 1; n < 100000; n += sparse && n > 64 ? n / 8 : 1) {
		in->arm(n);
		weir_err rv    = fn(f, arg);
		long     calls = in->disarm();
		if (rv == WEIR_OK) {
			if (calls < n) {
				return failures;
			}
			continue;
		}
		if (rv != WEIR_ENOMEM) {
			print_error("%s, allocation %ld: %s: %s\n", what, n,
			    weir_err_name(rv), weir_store_errmsg(f->st));
			fail();
		}
		failures++;
		fx_usable(f, append);
	}
	fail_msg("%s never succeeded", what);
	return failures;
}

#endif
