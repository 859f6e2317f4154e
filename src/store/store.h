// The store handle and what its files share.
#ifndef WEIR_STORE_STORE_H
#define WEIR_STORE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <weir/store.h>

#include "store/reader.h"
#include "store/writer.h"

struct weir_store_config {
	weir_store_durability durability;
	size_t                max_event;
	size_t                max_batch;
	size_t                queue_capacity;
	uint64_t              max_pages;
	char                 *vfs;
};

// How long a connection waits for a lock before SQLITE_BUSY.
#define WEIR__STORE_BUSY_MS 5000

struct weir_store {
	char             *path;
	weir_store_config cfg; // a copy; cfg.vfs is owned
	atomic_int        closed;
	int               created; // this open made the file (open only)
	weir__writer      writer;
	weir__readers     readers;

	pthread_mutex_t err_mu; // guards errmsg
	char            errmsg[512];

	// Replay cancellation: cancel bumps the generation and wakes
	// every replay sleeping on cancel_cv.
	pthread_mutex_t      cancel_mu;
	pthread_cond_t       cancel_cv; // CLOCK_MONOTONIC
	atomic_uint_fast64_t cancel_gen;
};

// Records an error message on the handle (printf-style) and returns rv.
weir_err weir__store_fail(weir_store *st, weir_err rv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// Maps an SQLite result code onto weir_err and records SQLite's text
// for @p db with @p what as context.
weir_err weir__store_sqlerr(
    weir_store *st, sqlite3 *db, int rc, const char *what);

// Steps a prepared statement that returns no row, and resets it.
weir_err weir__store_step_done(
    weir_store *st, sqlite3 *db, sqlite3_stmt *s, const char *what);

// Maps a primary SQLite result code onto weir_err.
weir_err weir__store_map_rc(int rc);

// WEIR_ECLOSED (with a message) once the store is closed.
weir_err weir__store_check_open(weir_store *st);

// Stream, cursor and origin names: 1..WEIR_STORE_MAX_NAME bytes of
// printable characters. Returns WEIR_EBADNAME with a message naming
// @p what ("stream", "cursor").
weir_err weir__store_check_name(
    weir_store *st, const char *name, const char *what);

// The 1.0 sizes of the growable public structs (API 1.0, rule 4): a
// caller's size below these is WEIR_EINVAL. Each runs through the last
// field of 1.0 and must not change when a field is added.
#define WEIR__THROUGH(T, f) (offsetof(T, f) + sizeof(((T *) 0)->f))
#define WEIR__STORE_FILTER_V1 WEIR__THROUGH(weir_store_filter, limit)
#define WEIR__STORE_APPEND_V1 WEIR__THROUGH(weir_store_append_opts, arg)
#define WEIR__STORE_REPLAY_V1 \
	WEIR__THROUGH(weir_store_replay_opts, progress_every)
// subscr, the last field, grows with weir_subscr_stats: pin this to the
// 1.0 size of that struct once it changes.
#define WEIR__STORE_ATTACH_STATS_V1 \
	WEIR__THROUGH(weir_store_attach_stats, subscr)

// weir__struct_in() for a caller's struct named @p what, with the reason
// of a failure in the store's errmsg.
weir_err weir__store_struct_in(weir_store *st, void *dst, size_t dst_size,
    const void *src, size_t min_size, const char *what);

// The current time in unix ns.
int64_t weir__store_now(void);

#endif
