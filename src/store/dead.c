// Dead letters: events that failed at a route or subscription, kept
// with their last error until retried or purged. One row per (origin,
// event id): a repeated failure counts an attempt instead of a new row.

#include "store/dead.h"
#include "core/alloc.h"
#include "store/append.h"
#include "store/bind.h"
#include "store/codec.h"
#include "store/reader.h"
#include "store/store.h"
#include "store/writer.h"

#define DEAD_COLS                                                       \
	"dlid,origin,seq,id,ts,topic,key,headers,payload,code,message," \
	"attempts,first_failure,last_failure"

typedef struct dead_req {
	const weir_event *ev;
	const char       *origin;
	weir_err          code;
	const char       *message;
	uint8_t          *hdr;
	size_t            hdr_len;
	uint64_t          id;
} dead_req;

static const char dead_sql_add[] =
    "INSERT INTO dead_letters(origin,seq,id,ts,topic,key,headers,payload,"
    "code,message,attempts,first_failure,last_failure)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,1,?11,?11)"
    " ON CONFLICT(origin,id) DO UPDATE SET code=excluded.code,"
    " message=excluded.message, attempts=attempts+1,"
    " last_failure=excluded.last_failure RETURNING dlid";

// Binds the row; SQLITE_OK or the first failed bind.
static int
dead_bind_event(sqlite3_stmt *s, const dead_req *r)
{
	size_t      klen, plen;
	const void *key     = weir_event_key(r->ev, &klen);
	const void *payload = weir_event_payload(r->ev, &plen);
	weir__bind  b;
	weir__bind_init(&b, s);
	weir__bind_text(&b, 1, r->origin);
	weir__bind_int64(&b, 2, (int64_t) weir_event_seq(r->ev));
	weir__bind_blob(&b, 3, weir_event_id(r->ev), 16);
	weir__bind_int64(&b, 4, weir_event_ts(r->ev));
	weir__bind_text(&b, 5, weir_event_topic(r->ev));
	weir__bind_blob(&b, 6, key, klen);
	weir__bind_blob(&b, 7, r->hdr, r->hdr_len);
	weir__bind_blob(&b, 8, payload, plen);
	weir__bind_int64(&b, 9, (int64_t) r->code);
	weir__bind_text(&b, 10, r->message);
	weir__bind_int64(&b, 11, weir__store_now());
	return b.rc;
}

static weir_err
dead_add(weir_store *st, sqlite3 *db, void *arg)
{
	dead_req     *r = arg;
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db, dead_sql_add, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = dead_bind_event(s, r)) == SQLITE_OK) {
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			r->id = (uint64_t) sqlite3_column_int64(s, 0);
			rc    = sqlite3_step(s);
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE
	    ? WEIR_OK
	    : weir__store_sqlerr(st, db, rc, "dead letter");
}

static weir_err
dead_check(weir_store *st, const char *origin, int required)
{
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK && (required || origin != NULL)) {
		rv = weir__store_check_name(st, origin, "origin");
	}
	return rv;
}

weir_err
weir_store_dead_add(weir_store *st, const weir_event *ev, const char *origin,
    weir_err code, const char *message, uint64_t *id)
{
	dead_req r = { .ev = ev,
		.origin    = origin,
		.code      = code,
		.message   = message ? message : weir_strerror(code) };
	if (id != NULL) {
		*id = 0;
	}
	if (st == NULL || ev == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = dead_check(st, origin, 1);
	if (rv == WEIR_OK) {
		rv = weir__append_check_event(st, ev, &r.hdr_len);
	}
	if (rv != WEIR_OK) {
		return rv;
	}
	if (r.hdr_len && (r.hdr = weir__alloc(r.hdr_len)) == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	weir__codec_headers_encode(ev, r.hdr);
	rv = weir__writer_call(st, dead_add, &r);
	weir__free(r.hdr);
	if (rv == WEIR_OK && id != NULL) {
		*id = r.id;
	}
	return rv;
}

// Decodes one row and calls @p fn with it.
static weir_err
dead_row(weir_store *st, sqlite3_stmt *s, weir_store_dead_fn fn, void *arg)
{
	weir_event *ev;
	weir_err    rv = weir__codec_row_event(
	       s, 3, (uint64_t) sqlite3_column_int64(s, 2), &ev);
	if (rv != WEIR_OK) {
		return weir__store_fail(st, rv, "dead letter %lld: %s",
		    (long long) sqlite3_column_int64(s, 0),
		    rv == WEIR_ECORRUPT ? "malformed" : weir_strerror(rv));
	}
	if (sqlite3_column_type(s, 1) != SQLITE_TEXT ||
	    sqlite3_column_text(s, 1) == NULL) {
		weir_event_release(ev);
		return weir__store_fail(st, WEIR_ECORRUPT,
		    "dead letter %lld: damaged row (origin is not text)",
		    (long long) sqlite3_column_int64(s, 0));
	}
	weir_store_dead_letter dl = {
		.size          = sizeof(dl),
		.id            = (uint64_t) sqlite3_column_int64(s, 0),
		.ev            = ev,
		.origin        = (const char *) sqlite3_column_text(s, 1),
		.code          = (weir_err) sqlite3_column_int(s, 9),
		.message       = (const char *) sqlite3_column_text(s, 10),
		.attempts      = (uint32_t) sqlite3_column_int64(s, 11),
		.first_failure = sqlite3_column_int64(s, 12),
		.last_failure  = sqlite3_column_int64(s, 13),
	};
	if (dl.message == NULL) {
		dl.message = "";
	}
	rv = fn(st, &dl, arg);
	weir_event_release(ev);
	return rv;
}

// LIMIT's value: -1 (none) for 0, and for a limit past INT64_MAX, which
// no count can reach.
static int64_t
dead_limit(size_t limit)
{
	return limit == 0 || limit > INT64_MAX ? -1 : (int64_t) limit;
}

typedef weir_err (*dead_visit_fn)(weir_store *st, sqlite3_stmt *s, void *arg);

// Runs the dead-letter select on a read connection, visiting each row.
static weir_err
dead_scan(weir_store *st, const char *origin, size_t limit,
    dead_visit_fn visit, void *arg)
{
	sqlite3 *db;
	weir_err rv = weir__readers_get(st, &db);
	if (rv != WEIR_OK) {
		return rv;
	}
	sqlite3_stmt *s;
	const char   *sql = origin
	      ? "SELECT " DEAD_COLS " FROM dead_letters WHERE origin=?1"
	        " ORDER BY dlid LIMIT ?2"
	      : "SELECT " DEAD_COLS " FROM dead_letters ORDER BY dlid LIMIT ?2";
	int           rc  = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		weir__bind b;
		weir__bind_init(&b, s);
		weir__bind_text(&b, 1, origin);
		weir__bind_int64(&b, 2, dead_limit(limit));
		rc = b.rc;
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		rv = visit(st, s, arg);
		rc = rv == WEIR_OK ? SQLITE_OK : SQLITE_DONE;
	}
	if (rv == WEIR_OK && rc != SQLITE_DONE) {
		rv = weir__store_sqlerr(st, db, rc, "dead letters");
	}
	sqlite3_finalize(s);
	weir__readers_put(st, db);
	return rv;
}

typedef struct dead_list_ctx {
	weir_store_dead_fn fn;
	void              *arg;
} dead_list_ctx;

static weir_err
dead_list_visit(weir_store *st, sqlite3_stmt *s, void *arg)
{
	dead_list_ctx *c = arg;
	return dead_row(st, s, c->fn, c->arg);
}

weir_err
weir__dead_each(weir_store *st, const char *origin, size_t limit,
    weir_store_dead_fn fn, void *arg)
{
	dead_list_ctx c = { fn, arg };
	return dead_scan(st, origin, limit, dead_list_visit, &c);
}

weir_err
weir_store_dead_list(weir_store *st, const char *origin, size_t limit,
    weir_store_dead_fn fn, void *arg)
{
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = dead_check(st, origin, 0);
	return rv != WEIR_OK ? rv
	                     : weir__dead_each(st, origin, limit, fn, arg);
}
