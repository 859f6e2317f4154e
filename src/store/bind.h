// Binding statement parameters with every result checked. A bind that
// fails (SQLITE_TOOBIG past SQLite's length limit, SQLITE_NOMEM) leaves
// its parameter NULL: stepping anyway would store an empty value and
// acknowledge it. A binder keeps the first failure; the caller checks it
// once, before stepping, with weir__bind_check().
#ifndef WEIR_STORE_BIND_H
#define WEIR_STORE_BIND_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <weir/store.h>

typedef struct weir__bind {
	sqlite3_stmt *stmt;
	int           rc;  // the first failure, or SQLITE_OK
	int           max; // the statement's highest parameter index
} weir__bind;

// Starts binding @p s. The store builds some SQL texts from parts and
// binds one set of parameters for every variant, so an index past the
// statement's highest one is a parameter this variant lacks: it is
// skipped. Every other failure is kept.
void weir__bind_init(weir__bind *b, sqlite3_stmt *s);
void weir__bind_int64(weir__bind *b, int i, int64_t v);
// NULL binds SQL NULL. The text must outlive the step (SQLITE_STATIC).
void weir__bind_text(weir__bind *b, int i, const char *text);
// A blob of @p len bytes; len 0 binds SQL NULL. Kept until the step.
void weir__bind_blob(weir__bind *b, int i, const void *p, size_t len);
// WEIR_OK, or the first failure mapped onto weir_err, with the store's
// errmsg set ("<what>: ...").
weir_err weir__bind_check(
    const weir__bind *b, weir_store *st, sqlite3 *db, const char *what);

#endif
