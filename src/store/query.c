// One SQL text per combination of filters, so that SQLite picks the
// index that fits: the seq primary key, the blocks of events_ts_blocks
// for time ranges, and the partial events_stream index (ordered by
// version) for streams.
// Topic patterns run inside SQLite through weir_match() (reader.c).
#include <stdio.h>
#include <string.h>

#include "store/bind.h"
#include "store/codec.h"
#include "store/query.h"
#include "store/reader.h"
#include "store/store.h"

static weir_err
query_check(weir_store *st, const weir_store_filter *f)
{
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	if (f->from_seq > INT64_MAX) {
		return weir__store_fail(st, WEIR_EINVAL,
		    "from_seq %llu is above the largest seq (INT64_MAX)",
		    (unsigned long long) f->from_seq);
	}
	if (f->pattern != NULL && weir_pattern_validate(f->pattern) != 0) {
		return weir__store_fail(st, WEIR_EBADPATTERN,
		    "invalid topic pattern '%.200s'", f->pattern);
	}
	if (f->stream != NULL) {
		return weir__store_check_name(st, f->stream, "stream");
	}
	return WEIR_OK;
}

// A time range without a stream walks the blocks of seqs whose ts range
// meets it (events_ts_blocks, in block order) and reads each one's seqs
// by the primary key: seq order without sorting, every event still
// checked against the range itself (a block's range only bounds it).
#define QUERY_BLOCKS                                                    \
	"events_ts_blocks CROSS JOIN events WHERE block BETWEEN ?1>>10" \
	" AND ?2>>10 AND lo<=?4 AND hi>=?3 AND seq BETWEEN max(?1,"     \
	"block<<10) AND min(?2,(block<<10)+1023) AND ts BETWEEN ?3 AND ?4"

// Builds the WHERE clause (and ORDER BY/LIMIT unless counting).
static void
query_sql(char *sql, size_t size, const weir_store_filter *f, int64_t version,
    int count)
{
	const char *order  = f->stream ? "version" : "seq";
	int         ts     = f->from_ts || f->to_ts;
	int         blocks = ts && f->stream == NULL;
	snprintf(sql, size,
	    "SELECT %s FROM %s%s%s%s%s ORDER BY %s%s%s LIMIT ?7",
	    count ? "count(*)" : WEIR__EVENT_COLS,
	    blocks ? QUERY_BLOCKS : "events WHERE seq BETWEEN ?1 AND ?2",
	    ts && !blocks ? " AND ts BETWEEN ?3 AND ?4" : "",
	    f->stream ? " AND stream=?5" : "",
	    version == 0      ? ""
	        : f->backward ? " AND version<=?8"
	                      : " AND version>=?8",
	    f->pattern ? " AND weir_match(?6,topic)" : "",
	    blocks ? (f->backward ? "block DESC," : "block,") : "", order,
	    f->backward ? " DESC" : "");
}

static weir_err
query_prepare(weir_store *st, sqlite3 *db, const weir_store_filter *f,
    int64_t version, int count, sqlite3_stmt **out)
{
	char sql[768];
	query_sql(sql, sizeof(sql), f, version, count);
	int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, db, rc, "query");
	}
	sqlite3_stmt *s     = *out;
	uint64_t      to    = f->to_seq ? f->to_seq : (uint64_t) INT64_MAX;
	size_t        limit = count || f->limit == 0 ? 0 : f->limit;
	weir__bind    b;
	weir__bind_init(&b, s);
	weir__bind_int64(&b, 1, (int64_t) f->from_seq); // checked <= INT64_MAX
	weir__bind_int64(&b, 2, (int64_t) (to > INT64_MAX ? INT64_MAX : to));
	weir__bind_int64(&b, 3, f->from_ts);
	weir__bind_int64(&b, 4, f->to_ts ? f->to_ts : INT64_MAX);
	weir__bind_text(&b, 5, f->stream);
	weir__bind_text(&b, 6, f->pattern);
	weir__bind_int64(
	    &b, 7, limit == 0 || limit > INT64_MAX ? -1 : (int64_t) limit);
	weir__bind_int64(&b, 8, version);
	weir_err rv = weir__bind_check(&b, st, db, "query");
	if (rv != WEIR_OK) {
		sqlite3_finalize(s);
		*out = NULL;
	}
	return rv;
}

weir_err
weir__query_open(weir_store *st, const weir_store_filter *f, int64_t version,
    weir__query *q)
{
	memset(q, 0, sizeof(*q));
	weir_err rv = query_check(st, f);
	if (rv == WEIR_OK) {
		rv = weir__readers_get(st, &q->db);
	}
	if (rv != WEIR_OK) {
		return rv;
	}
	int rc = sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rv = weir__store_sqlerr(st, q->db, rc, "begin read");
	} else {
		q->in_txn = 1;
		rv        = query_prepare(st, q->db, f, version, 0, &q->stmt);
	}
	if (rv != WEIR_OK) {
		weir__query_close(st, q);
	}
	return rv;
}

weir_err
weir__query_count(weir_store *st, const weir_store_filter *f, int64_t version,
    weir__query *q, uint64_t *total)
{
	sqlite3_stmt *s;
	weir_err      rv = query_prepare(st, q->db, f, version, 1, &s);
	if (rv != WEIR_OK) {
		return rv;
	}
	int rc = sqlite3_step(s);
	*total = rc == SQLITE_ROW ? (uint64_t) sqlite3_column_int64(s, 0) : 0;
	if (rc != SQLITE_ROW) {
		rv = weir__store_sqlerr(st, q->db, rc, "count");
	}
	sqlite3_finalize(s);
	if (rv == WEIR_OK && f->limit && *total > f->limit) {
		*total = f->limit;
	}
	return rv;
}

weir_err
weir__query_next(weir_store *st, weir__query *q, weir_event **ev,
    const char **stream, int64_t *version)
{
	*ev    = NULL;
	int rc = sqlite3_step(q->stmt);
	if (rc == SQLITE_DONE) {
		return WEIR_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return weir__store_sqlerr(st, q->db, rc, "read");
	}
	uint64_t seq = (uint64_t) sqlite3_column_int64(q->stmt, 0);
	weir_err rv  = weir__codec_row_stream(q->stmt, 7, stream, version);
	if (rv == WEIR_OK) {
		rv = weir__codec_row_event(q->stmt, 1, seq, ev);
	}
	if (rv != WEIR_OK) {
		return weir__store_fail(st, rv, "event at seq %llu: %s",
		    (unsigned long long) seq,
		    rv == WEIR_ECORRUPT ? "malformed" : weir_strerror(rv));
	}
	return rv;
}

void
weir__query_close(weir_store *st, weir__query *q)
{
	sqlite3_finalize(q->stmt);
	if (q->in_txn) {
		(void) sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	}
	if (q->db != NULL) {
		weir__readers_put(st, q->db);
	}
	memset(q, 0, sizeof(*q));
}
