// Appends. The caller's thread checks and encodes the event, so that
// the writer thread only binds and steps: the writer is the bottleneck
// of the store, everything that can run in parallel runs before it.
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/event.h"
#include "store/append.h"
#include "store/bind.h"
#include "store/codec.h"
#include "store/store.h"

// ---- writer side ------------------------------------------------------

void
weir__append_bind_row(
    weir__bind *b, const weir__req *r, int base, uint64_t seq)
{
	const weir_event *ev = r->ev;
	size_t            key_len, payload_len;
	const void       *key     = weir_event_key(ev, &key_len);
	const void       *payload = weir_event_payload(ev, &payload_len);
	weir__bind_int64(b, base + 1, (int64_t) seq);
	weir__bind_blob(b, base + 2, weir_event_id(ev), 16);
	weir__bind_int64(b, base + 3, weir_event_ts(ev));
	weir__bind_text(b, base + 4, weir_event_topic(ev));
	weir__bind_blob(b, base + 5, key, key_len);
	weir__bind_blob(b, base + 6, r->hdr, r->hdr_len);
	weir__bind_blob(b, base + 7, payload, payload_len);
}

// Binds the row and steps; SQLITE_DONE on success. A failed bind is
// returned as such, never stepped with its parameter left NULL.
static int
append_insert(weir_store *st, weir__req *r, int64_t version)
{
	sqlite3_stmt *s = st->writer.ins;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__append_bind_row(&b, r, 0, st->writer.next_seq);
	weir__bind_text(&b, 8, r->stream);
	if (r->stream != NULL) {
		weir__bind_int64(&b, 9, version);
	} else {
		weir__bind_text(&b, 9, NULL);
	}
	int rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		r->seq     = st->writer.next_seq++;
		r->version = version;
		weir__writer_note_ts(
		    &st->writer, r->seq, weir_event_ts(r->ev));
	}
	return rc;
}

// Looks the event's id up: 1 if found (r->seq, r->version set), 0 if
// not, -1 on error (recorded).
static int
append_find(weir_store *st, weir__req *r, weir_err *rv)
{
	sqlite3_stmt *s = st->writer.find_id;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__bind_blob(&b, 1, weir_event_id(r->ev), 16);
	int rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	if (rc == SQLITE_ROW) {
		r->seq     = (uint64_t) sqlite3_column_int64(s, 0);
		r->version = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*rv = weir__store_sqlerr(st, st->writer.db, rc, "find id");
		return -1;
	}
	return rc == SQLITE_ROW;
}

static weir_err
append_stream_version(weir_store *st, const char *stream, int64_t *version)
{
	sqlite3_stmt *s = st->writer.stream_get;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__bind_text(&b, 1, stream);
	int rc   = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	*version = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return weir__store_sqlerr(st, st->writer.db, rc, "stream");
	}
	return WEIR_OK;
}

static weir_err
append_stream_set(weir_store *st, const char *stream, int64_t version)
{
	sqlite3_stmt *s = st->writer.stream_set;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__bind_text(&b, 1, stream);
	weir__bind_int64(&b, 2, version);
	weir_err rv = weir__bind_check(&b, st, st->writer.db, "stream");
	return rv != WEIR_OK
	    ? rv
	    : weir__store_step_done(st, st->writer.db, s, "stream");
}

// A stream append: the id check comes first, so that retrying an
// append that did commit returns its seq instead of a conflict.
static weir_err
append_stream(weir_store *st, weir__req *r)
{
	weir_err rv    = WEIR_OK;
	int      found = append_find(st, r, &rv);
	if (found != 0) {
		return rv;
	}
	int64_t cur;
	if ((rv = append_stream_version(st, r->stream, &cur)) != WEIR_OK) {
		return rv;
	}
	int64_t want =
	    r->expected == WEIR_STORE_EXPECT_NO_STREAM ? 0 : r->expected;
	if (r->expected != WEIR_STORE_EXPECT_ANY && want != cur) {
		return weir__store_fail(st, WEIR_ECONFLICT,
		    "stream '%s' is at version %lld, expected %lld", r->stream,
		    (long long) cur, (long long) want);
	}
	int rc = append_insert(st, r, cur + 1);
	if (rc != SQLITE_DONE) {
		return weir__store_sqlerr(st, st->writer.db, rc, "append");
	}
	return append_stream_set(st, r->stream, cur + 1);
}

// An inbox append: an id already in the log (its event still there, or
// a local event that came back) or in the inbox (its event trimmed)
// writes nothing and is a duplicate, with the log's seq if it has one.
static weir_err
append_inbox(weir_store *st, weir__req *r)
{
	int      seen;
	weir_err rv = weir__append_inbox_seen(st, r, &seen);
	if (rv != WEIR_OK) {
		return rv;
	}
	int rc = seen ? SQLITE_CONSTRAINT : append_insert(st, r, 0);
	if (rc == SQLITE_DONE) {
		return WEIR_OK;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		int found = append_find(st, r, &rv);
		if (found < 0) {
			return rv;
		}
		if (seen || found) {
			r->dup = 1;
			return WEIR_OK;
		}
	}
	return weir__store_sqlerr(st, st->writer.db, rc, "append");
}

weir_err
weir__append_exec(weir_store *st, weir__req *r)
{
	if (r->inbox) {
		return append_inbox(st, r);
	}
	if (r->stream != NULL) {
		return append_stream(st, r);
	}
	// Most appends are new: insert first, look the id up only when the
	// unique index refuses it.
	int rc = append_insert(st, r, 0);
	if (rc == SQLITE_DONE) {
		return WEIR_OK;
	}
	weir_err rv = WEIR_OK;
	if ((rc & 0xff) == SQLITE_CONSTRAINT && append_find(st, r, &rv) != 0) {
		return rv;
	}
	return weir__store_sqlerr(st, st->writer.db, rc, "append");
}

// A plain append (no stream, not from the inbox) may share its INSERT
// with its neighbours.
static int
append_is_plain(const weir__req *r)
{
	return r->kind == WEIR__REQ_APPEND && !r->inbox && r->stream == NULL;
}

size_t
weir__append_run_len(const weir__req *r, int (*in_run)(const weir__req *r))
{
	size_t n = 0;
	while (n < WEIR__APPEND_ROWS && in_run(r)) {
		n++;
		if ((r = r->next) == NULL) {
			break;
		}
	}
	return n;
}

int
weir__append_run_size(size_t n)
{
	int size = 0; // the largest statement not longer than the run
	while (size < WEIR__APPEND_SIZES - 1 &&
	    (size_t) (WEIR__APPEND_ROWS >> size) > n) {
		size++;
	}
	return (size_t) (WEIR__APPEND_ROWS >> size) > n ? -1 : size;
}

// A multi-row INSERT OR IGNORE skipped a row (an id already logged, or
// one id twice): its seqs would have a hole, so the rows it did write
// go again, and the run is refused like a constraint. Returns
// SQLITE_CONSTRAINT, or the delete's failure, never a constraint code
// then (a trigger's abort): rows left behind must fail the batch, not
// send the run one by one onto their seqs.
static int
append_rows_unwind(sqlite3 *db, uint64_t first, size_t n)
{
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db,
	              "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return rc;
	}
	weir__bind b;
	weir__bind_init(&b, s);
	weir__bind_int64(&b, 1, (int64_t) first);
	weir__bind_int64(&b, 2, (int64_t) (first + n - 1));
	rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE) {
		return SQLITE_CONSTRAINT;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? SQLITE_ERROR : rc;
}

int
weir__append_rows_insert(weir_store *st, weir__req *r, int size, int *bound)
{
	size_t        n    = (size_t) WEIR__APPEND_ROWS >> size;
	sqlite3_stmt *s    = st->writer.ins_rows[size];
	uint64_t      next = st->writer.next_seq;
	weir__req    *p    = r;
	weir__bind    b;
	weir__bind_init(&b, s);
	for (size_t i = 0; i < n; i++, p = p->next) {
		weir__append_bind_row(
		    &b, p, (int) (WEIR__APPEND_COLS * i), next + i);
	}
	*bound = b.rc == SQLITE_OK;
	int rc = *bound ? sqlite3_step(s) : b.rc;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE &&
	    (size_t) sqlite3_changes(st->writer.db) != n) {
		rc = append_rows_unwind(st->writer.db, next, n);
	}
	if (rc == SQLITE_DONE) {
		p = r;
		for (size_t i = 0; i < n; i++, p = p->next) {
			p->seq     = next + i;
			p->version = 0;
			weir__writer_note_ts(
			    &st->writer, p->seq, weir_event_ts(p->ev));
		}
		st->writer.next_seq = next + n;
	}
	return rc;
}

size_t
weir__append_rows(weir_store *st, weir__req *r, size_t *single)
{
	size_t n    = weir__append_run_len(r, append_is_plain);
	int    size = weir__append_run_size(n);
	*single     = 1;
	if (size < 0) {
		return 0; // one plain append, or none
	}
	n = (size_t) WEIR__APPEND_ROWS >> size;
	int bound;
	int rc = weir__append_rows_insert(st, r, size, &bound);
	if (rc == SQLITE_DONE) {
		*single = 0; // the next run may be grouped again
		return n;
	}
	// A failed bind or a refused id (a retry, or one id twice): the
	// statement undid its rows; each runs alone, as if never grouped.
	// Anything else is a storage error, which fails the batch.
	*single = n;
	if (bound && (rc & 0xff) != SQLITE_CONSTRAINT) {
		r->rv = weir__store_sqlerr(st, st->writer.db, rc, "append");
	}
	return 0;
}

// ---- caller side ------------------------------------------------------

// Whatever made the event may not have checked it (an internal
// constructor): only weir_event_new's mark (core/event.h) lets the
// topic and limits go unchecked here, ~740 instructions an event.
static weir_err
append_check_unchecked(weir_store *st, const weir_event *ev)
{
	if (weir_topic_validate(weir_event_topic(ev)) != WEIR_OK) {
		return weir__store_fail(st, WEIR_EBADTOPIC,
		    "invalid topic '%.200s'", weir_event_topic(ev));
	}
	if (weir__codec_check(ev) != WEIR_OK) {
		return weir__store_fail(st, WEIR_EINVAL,
		    "event past weir's limits (header count, name or value "
		    "length, key length): it would not read back");
	}
	return WEIR_OK;
}

weir_err
weir__append_check_event(weir_store *st, const weir_event *ev, size_t *hsize)
{
	weir_err rv =
	    weir__event_checked(ev) ? WEIR_OK : append_check_unchecked(st, ev);
	if (rv != WEIR_OK) {
		return rv;
	}
	*hsize      = weir__codec_headers_size(ev);
	size_t size = weir__codec_event_size(ev, *hsize);
	if (size > st->cfg.max_event) {
		return weir__store_fail(st, WEIR_ETOOBIG,
		    "event of %zu bytes exceeds the limit of %zu bytes", size,
		    st->cfg.max_event);
	}
	return WEIR_OK;
}

static weir_err
append_check(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, size_t *hsize)
{
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	if (opt->expected < WEIR_STORE_EXPECT_NO_STREAM ||
	    (opt->stream == NULL && opt->expected != WEIR_STORE_EXPECT_ANY)) {
		return weir__store_fail(st, WEIR_EINVAL,
		    "expected version %lld needs a stream and must be >= -1",
		    (long long) opt->expected);
	}
	if (opt->stream != NULL &&
	    (rv = weir__store_check_name(st, opt->stream, "stream")) != 0) {
		return rv;
	}
	if ((opt->flags & ~WEIR_STORE_APPEND_NOWAIT) != 0) {
		return weir__store_fail(st, WEIR_EINVAL,
		    "append: unknown flags 0x%x",
		    opt->flags & ~WEIR_STORE_APPEND_NOWAIT);
	}
	return weir__append_check_event(st, ev, hsize);
}

static weir_err
append_async(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, size_t hsize)
{
	size_t     slen = opt->stream ? strlen(opt->stream) + 1 : 0;
	weir__req *r    = weir__zalloc(sizeof(*r) + slen + hsize);
	if (r == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	if ((r->ev = weir_event_hold(ev)) == NULL) {
		weir__free(r);
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	uint8_t *p = (uint8_t *) (r + 1);
	if (slen) {
		r->stream = memcpy(p, opt->stream, slen);
	}
	weir__codec_headers_encode(ev, p + slen);
	r->hdr      = p + slen;
	r->hdr_len  = hsize;
	r->async    = 1;
	r->expected = opt->expected;
	r->done     = opt->done;
	r->arg      = opt->arg;
	weir_err rv = weir__writer_submit(st, r);
	if (rv != WEIR_OK) {
		weir_event_release(r->ev);
		weir__free(r);
	}
	return rv;
}

static weir_err
append_sync(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, size_t hsize, weir__req *r)
{
	uint8_t  small[512];
	uint8_t *hdr = hsize <= sizeof(small) ? small : weir__alloc(hsize);
	if (hdr == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	weir__codec_headers_encode(ev, hdr);
	r->ev       = ev; // borrowed: the caller waits for the commit
	r->hdr      = hdr;
	r->hdr_len  = hsize;
	r->stream   = opt->stream;
	r->expected = opt->expected;
	weir_err rv = weir__writer_submit(st, r);
	if (hdr != small) {
		weir__free(hdr);
	}
	return rv != WEIR_OK ? rv : r->rv;
}

weir_err
weir_store_append(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, uint64_t *seq, int64_t *version)
{
	weir_store_append_opts o     = { .size = sizeof(o) };
	weir__req              r     = { .kind = WEIR__REQ_APPEND };
	size_t                 hsize = 0;
	if (seq != NULL) {
		*seq = 0;
	}
	if (version != NULL) {
		*version = 0;
	}
	if (st == NULL || ev == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = opt == NULL ? WEIR_OK
	                          : weir__store_struct_in(st, &o, sizeof(o),
	                                opt, WEIR__STORE_APPEND_V1, "append");
	if (rv == WEIR_OK) {
		rv = append_check(st, ev, &o, &hsize);
	}
	if (rv == WEIR_OK && (o.flags & WEIR_STORE_APPEND_NOWAIT)) {
		return append_async(st, ev, &o, hsize);
	}
	if (rv == WEIR_OK) {
		rv = append_sync(st, ev, &o, hsize, &r);
	}
	if (rv == WEIR_OK && seq != NULL) {
		*seq = r.seq;
	}
	if (rv == WEIR_OK && version != NULL) {
		*version = r.version;
	}
	return rv;
}

weir_err
weir_store_flush(weir_store *st)
{
	if (st == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	return rv != WEIR_OK ? rv : weir__writer_call(st, NULL, NULL);
}

weir_err
weir_store_last_seq(weir_store *st, uint64_t *seq)
{
	if (st == NULL || seq == NULL) {
		return WEIR_EINVAL;
	}
	*seq        = 0;
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK) {
		*seq = atomic_load(&st->writer.committed_seq);
	}
	return rv;
}
