// Event queries on a read connection, shared by reads and replays.
#ifndef WEIR_STORE_QUERY_H
#define WEIR_STORE_QUERY_H

#include <sqlite3.h>

#include <weir/store.h>

typedef struct weir__query {
	sqlite3      *db;   // lent by the reader pool
	sqlite3_stmt *stmt; // the event select
	int           in_txn;
} weir__query;

// Validates @p f, takes a reader, opens a read transaction and prepares
// the select. @p version bounds stream reads (0: none): from it upward,
// or downward when f->backward. On error nothing is left open.
weir_err weir__query_open(weir_store *st, const weir_store_filter *f,
    int64_t version, weir__query *q);
// How many events the query selects (same snapshot).
weir_err weir__query_count(weir_store *st, const weir_store_filter *f,
    int64_t version, weir__query *q, uint64_t *total);
// The next event (the caller releases it), or WEIR_ENOENT at the end.
// @p stream points into the statement until the next call.
weir_err weir__query_next(weir_store *st, weir__query *q, weir_event **ev,
    const char **stream, int64_t *version);
void     weir__query_close(weir_store *st, weir__query *q);

#endif
