// Retrying and removing dead letters. A retry hands each dead letter to
// the caller's function (to a bus, or the bridge) from a read snapshot,
// then records every outcome in one write: successes are deleted,
// failures count an attempt with their new error.
#include <stdio.h>

#include "core/alloc.h"
#include "store/bind.h"
#include "store/dead.h"
#include "store/store.h"
#include "store/writer.h"

typedef struct retry_outcome {
	uint64_t id;
	weir_err err;
} retry_outcome;

typedef struct retry_ctx {
	weir_store_dead_fn fn;
	void              *arg;
	retry_outcome     *out;
	size_t             n;
	size_t             cap;
	size_t             ok;
	const char        *origin;
	uint64_t           id; // delete one
	uint64_t           changes;
} retry_ctx;

static weir_err
retry_visit(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	retry_ctx *c = arg;
	if (c->n == c->cap) {
		size_t         cap = c->cap ? 2 * c->cap : 64;
		retry_outcome *out = weir__realloc(c->out, cap * sizeof(*out));
		if (out == NULL) {
			return weir__store_fail(
			    st, WEIR_ENOMEM, "out of memory");
		}
		c->out = out;
		c->cap = cap;
	}
	weir_err err       = c->fn(st, dl, c->arg);
	c->out[c->n].id    = dl->id;
	c->out[c->n++].err = err;
	c->ok += err == WEIR_OK;
	return WEIR_OK;
}

// Binds an outcome to the delete (only ?1 exists there: the binder
// skips the others) or the update, and steps.
static int
retry_step(sqlite3_stmt *s, const retry_outcome *o)
{
	char       msg[128];
	weir__bind b;
	snprintf(msg, sizeof(msg), "retry failed: %s", weir_strerror(o->err));
	weir__bind_init(&b, s);
	weir__bind_int64(&b, 1, (int64_t) o->id);
	weir__bind_int64(&b, 2, (int64_t) o->err);
	weir__bind_text(&b, 3, msg);
	weir__bind_int64(&b, 4, weir__store_now());
	int rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	sqlite3_reset(s);
	return rc;
}

static weir_err
retry_apply(weir_store *st, sqlite3 *db, void *arg)
{
	retry_ctx *c = arg;
	// NULL until prepared (a failed prepare leaves NULL too), so the one
	// exit below finalizes each statement at most once.
	sqlite3_stmt *del = NULL, *upd = NULL;
	int           rc = sqlite3_prepare_v2(
	              db, "DELETE FROM dead_letters WHERE dlid=?1", -1, &del, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db,
		    "UPDATE dead_letters SET attempts=attempts+1, code=?2,"
		    " message=?3, last_failure=?4 WHERE dlid=?1",
		    -1, &upd, NULL);
	}
	for (size_t i = 0; rc == SQLITE_OK && i < c->n; i++) {
		rc = retry_step(c->out[i].err ? upd : del, &c->out[i]);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	// The message is taken before finalizing, which may change it.
	weir_err rv = rc == SQLITE_OK
	    ? WEIR_OK
	    : weir__store_sqlerr(st, db, rc, "retry");
	sqlite3_finalize(del);
	sqlite3_finalize(upd);
	return rv;
}

weir_err
weir_store_dead_retry(weir_store *st, const char *origin,
    weir_store_dead_fn fn, void *arg, size_t *retried)
{
	retry_ctx c = { .fn = fn, .arg = arg };
	if (retried != NULL) {
		*retried = 0;
	}
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK && origin != NULL) {
		rv = weir__store_check_name(st, origin, "origin");
	}
	if (rv == WEIR_OK) {
		rv = weir__dead_each(st, origin, 0, retry_visit, &c);
	}
	// What fn has taken is recorded even when the scan stopped early
	// (out of memory): a dead letter left behind after fn took it
	// would be handed out, and delivered, again.
	weir_err applied =
	    c.n > 0 ? weir__writer_call(st, retry_apply, &c) : WEIR_OK;
	if (applied == WEIR_OK && retried != NULL) {
		*retried = c.ok;
	}
	rv = rv != WEIR_OK ? rv : applied;
	weir__free(c.out);
	return rv;
}

static weir_err
dead_remove(weir_store *st, sqlite3 *db, void *arg)
{
	retry_ctx    *c = arg;
	sqlite3_stmt *s;
	const char   *sql = c->id ? "DELETE FROM dead_letters WHERE dlid=?1"
	      : c->origin         ? "DELETE FROM dead_letters WHERE origin=?2"
	                          : "DELETE FROM dead_letters";
	int           rc  = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		weir__bind b;
		weir__bind_init(&b, s);
		weir__bind_int64(&b, 1, (int64_t) c->id);
		weir__bind_text(&b, 2, c->origin);
		rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_DONE) {
		return weir__store_sqlerr(st, db, rc, "dead letters");
	}
	c->changes = (uint64_t) sqlite3_changes64(db);
	if (c->id && c->changes == 0) {
		return weir__store_fail(st, WEIR_ENOENT,
		    "no dead letter with id %llu", (unsigned long long) c->id);
	}
	return WEIR_OK;
}

weir_err
weir_store_dead_delete(weir_store *st, uint64_t id)
{
	retry_ctx c = { .id = id };
	if (st == NULL || id == 0 || id > INT64_MAX) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	return rv != WEIR_OK ? rv : weir__writer_call(st, dead_remove, &c);
}

weir_err
weir_store_dead_purge(weir_store *st, const char *origin, uint64_t *purged)
{
	retry_ctx c = { .origin = origin };
	if (purged != NULL) {
		*purged = 0;
	}
	if (st == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK && origin != NULL) {
		rv = weir__store_check_name(st, origin, "origin");
	}
	if (rv == WEIR_OK) {
		rv = weir__writer_call(st, dead_remove, &c);
	}
	if (rv == WEIR_OK && purged != NULL) {
		*purged = c.changes;
	}
	return rv;
}
