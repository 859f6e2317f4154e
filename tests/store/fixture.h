/*
 * Helpers shared by the store tests: a fresh directory per test (on the
 * disk under the build tree, or $WEIR_TEST_DIR), stores and events.
 */
#ifndef WEIR_STORE_FIXTURE_H
#define WEIR_STORE_FIXTURE_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir_test.h"
#include <weir/store.h>

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

#endif
