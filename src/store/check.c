// Design notes. weir_store_check_report() looks at a store the way its
// reads will: SQLite's integrity check first, then every table of the
// schema, every row's column types (what the store itself writes, so
// that any other value is damage), and last every event and dead letter
// through the same decoder the reads use. It runs in one read
// transaction on a pooled read connection, beside the writer.
//
// A damaged page or schema makes SQLite fail a statement with CORRUPT
// or NOTADB: that is a finding, reported, and the check goes on with
// the next table. Any other SQLite error (out of memory, I/O) means the
// check itself could not run, and is returned.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/codec.h"
#include "store/reader.h"
#include "store/store.h"

typedef struct check_run {
	weir_store         *st;
	sqlite3            *db;
	weir_store_check_fn fn;
	void               *arg;
	uint64_t            count;
	char                first[400];
} check_run;

// The columns of an event as the store writes them: the first wrong
// one, or NULL. Shared by `events` and `dead_letters`.
#define CHECK_EVENT_COLS                                                 \
	"WHEN typeof(id)!='blob' OR length(id)!=16 THEN 'id is not a "   \
	"16-byte blob' WHEN typeof(ts)!='integer' THEN 'ts is not an "   \
	"integer' WHEN typeof(topic)!='text' THEN 'topic is not text' "  \
	"WHEN typeof(key) NOT IN('blob','null') THEN 'key is not a "     \
	"blob' WHEN typeof(headers) NOT IN('blob','null') THEN 'headers" \
	" are not a blob' WHEN typeof(payload) NOT IN('blob','null') "   \
	"THEN 'payload is not a blob' "
#define CHECK_INT(c) \
	"WHEN typeof(" c ")!='integer' THEN '" c " is not an integer' "
#define CHECK_TEXT(c) "WHEN typeof(" c ")!='text' THEN '" c " is not text' "

#define CHECK_EVENTS_CASE                                                 \
	"CASE " CHECK_EVENT_COLS                                          \
	"WHEN typeof(stream) NOT IN('text','null') THEN 'stream is not "  \
	"text' WHEN typeof(version) NOT IN('integer','null') THEN "       \
	"'version is not an integer' WHEN (stream IS NULL)!=(version IS " \
	"NULL) THEN 'stream and version are not both set' WHEN NOT "      \
	"EXISTS(SELECT 1 FROM events_ts_blocks WHERE block=seq>>10 AND "  \
	"ts BETWEEN lo AND hi) THEN 'ts outside its block''s range in "   \
	"events_ts_blocks (reads by time would miss it)' END"
#define CHECK_DEAD_CASE                                                      \
	"CASE " CHECK_TEXT("origin") CHECK_EVENT_COLS                        \
	    "WHEN typeof(seq) NOT IN('integer','null') THEN 'seq is not an " \
	    "integer' " CHECK_INT("code") CHECK_INT("attempts")              \
	        CHECK_INT("first_failure") CHECK_INT(                        \
	            "last_failure") "WHEN typeof(message) NOT "              \
	                            "IN('text','null') THEN 'message is "    \
	                            "not text' END"

// One table of the schema: how to name a row, and its column rules.
typedef struct check_table {
	const char *name;
	const char *row;   // SQL: the row number reported (0: none)
	const char *label; // SQL: the row's name in the text
	const char *cases; // SQL: the first wrong column, or NULL
} check_table;

static const check_table check_tables[] = {
	{ "events", "seq", "'seq '||seq", CHECK_EVENTS_CASE },
	{ "streams", "0", "'stream '||quote(name)",
	    "CASE " CHECK_TEXT("name") CHECK_INT("version") "END" },
	{ "cursors", "0", "'cursor '||quote(name)",
	    "CASE " CHECK_TEXT("name") CHECK_INT("seq")
	        CHECK_INT("updated") "END" },
	{ "meta", "0", "'key '||quote(key)", "CASE " CHECK_TEXT("key") "END" },
	{ "snapshots", "0", "'snapshot '||quote(stream)||' '||quote(version)",
	    "CASE " CHECK_TEXT("stream") CHECK_INT("version") CHECK_INT(
	        "ts") "WHEN typeof(data) NOT IN('blob','null') THEN 'data "
	              "is not a blob' END" },
	{ "dead_letters", "dlid", "'dead letter '||dlid", CHECK_DEAD_CASE },
	{ "events_ts_blocks", "0", "'block '||block",
	    "CASE " CHECK_INT("lo") CHECK_INT("hi") "END" },
	{ "inbox", "0", "'inbox id '||quote(id)",
	    "CASE WHEN typeof(id)!='blob' THEN 'id is not a blob' " CHECK_INT(
	        "ts") "END" },
};

static void
check_report(check_run *c, weir_store_damage kind, const char *table,
    uint64_t row, const char *fmt, ...)
{
	char    text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->count++ == 0) {
		snprintf(c->first, sizeof(c->first), "%s", text);
	}
	if (c->fn != NULL) {
		weir_store_problem p = { .size = sizeof(p),
			.kind                  = kind,
			.table                 = table,
			.row                   = row,
			.text                  = text };
		c->fn(c->st, &p, c->arg);
	}
}

// An SQLite error on @p table: damage (reported, WEIR_OK: go on) or a
// failure of the check itself (returned).
static weir_err
check_sqlerr(check_run *c, int rc, const char *table, const char *what)
{
	int prim = rc & 0xff;
	if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB) {
		check_report(c, WEIR_STORE_DAMAGE_INTEGRITY, table, 0,
		    "%s%s%s: %s", table ? "table " : "", table ? table : "",
		    table ? what : what + 1, sqlite3_errmsg(c->db));
		return WEIR_OK;
	}
	if (prim == SQLITE_ERROR && table != NULL) {
		check_report(c, WEIR_STORE_DAMAGE_TABLE, table, 0,
		    "table %s: %s", table, sqlite3_errmsg(c->db));
		return WEIR_OK;
	}
	return weir__store_sqlerr(c->st, c->db, rc, "check");
}

// Prepares @p sql; a damaged schema or table is reported (*s NULL).
static weir_err
check_prepare(
    check_run *c, const char *sql, const char *table, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, s, NULL);
	if (rc != SQLITE_OK) {
		*s = NULL;
		return check_sqlerr(c, rc, table, " (schema)");
	}
	return WEIR_OK;
}

// Steps @p s to the end, calling @p row for each row.
static weir_err
check_rows(check_run *c, sqlite3_stmt *s, const char *table,
    weir_err (*row)(check_run *, sqlite3_stmt *, const char *))
{
	weir_err rv = WEIR_OK;
	int      rc;
	while (rv == WEIR_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		rv = row(c, s, table);
	}
	if (rv == WEIR_OK && rc != SQLITE_DONE) {
		rv = check_sqlerr(c, rc, table, " (reading)");
	}
	sqlite3_finalize(s);
	return rv;
}

// SQLite's integrity check reports a page it could not load as a row
// of text ("unable to get the page. error code=N"), also when N is
// SQLITE_NOMEM or SQLITE_IOERR_NOMEM: that is the check failing to run,
// not damage. N is the code, followed by a line end or the text's end.
static int
check_oom_text(const char *res)
{
	static const char *const oom[] = { "error code=7", "error code=3082" };
	for (size_t i = 0; i < 2; i++) {
		size_t      n = strlen(oom[i]);
		const char *p = res;
		while ((p = strstr(p, oom[i])) != NULL) {
			p += n;
			if (*p == '\0' || *p == '\n') {
				return 1;
			}
		}
	}
	return 0;
}

static weir_err
check_integrity_row(check_run *c, sqlite3_stmt *s, const char *table)
{
	const char *res = (const char *) sqlite3_column_text(s, 0);
	(void) table;
	// A NULL text is damage, unless SQLite could not make the text.
	if (res == NULL ? sqlite3_errcode(c->db) == SQLITE_NOMEM
	                : check_oom_text(res)) {
		return weir__store_fail(
		    c->st, WEIR_ENOMEM, "integrity check: out of memory");
	}
	if (res == NULL || strcmp(res, "ok") != 0) {
		check_report(c, WEIR_STORE_DAMAGE_INTEGRITY, NULL, 0,
		    "integrity check: %.300s", res ? res : "(no text)");
	}
	return WEIR_OK;
}

static weir_err
check_integrity(check_run *c)
{
	sqlite3_stmt *s;
	weir_err      rv =
	    check_prepare(c, "PRAGMA integrity_check(100)", NULL, &s);
	return rv != WEIR_OK || s == NULL
	    ? rv
	    : check_rows(c, s, NULL, check_integrity_row);
}

static weir_err
check_column_row(check_run *c, sqlite3_stmt *s, const char *table)
{
	check_report(c, WEIR_STORE_DAMAGE_COLUMN, table,
	    (uint64_t) sqlite3_column_int64(s, 0), "table %s, %.120s: %s",
	    table, (const char *) sqlite3_column_text(s, 1),
	    (const char *) sqlite3_column_text(s, 2));
	return WEIR_OK;
}

// Is @p name a table of the file? Reported as missing if not.
static weir_err
check_exists(check_run *c, const char *name, int *exists)
{
	sqlite3_stmt *s;
	*exists     = 0;
	weir_err rv = check_prepare(c,
	    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", NULL,
	    &s);
	if (rv != WEIR_OK || s == NULL) {
		return rv;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return check_sqlerr(c, rc, NULL, " (schema)");
	}
	*exists = rc == SQLITE_ROW;
	if (!*exists) {
		check_report(c, WEIR_STORE_DAMAGE_TABLE, name, 0,
		    "table %s is missing", name);
	}
	return WEIR_OK;
}

static weir_err
check_columns(check_run *c, const check_table *t)
{
	char          sql[1536];
	sqlite3_stmt *s;
	snprintf(sql, sizeof(sql),
	    "SELECT %s, %s, w FROM (SELECT *, %s AS w FROM %s) WHERE w IS "
	    "NOT NULL",
	    t->row, t->label, t->cases, t->name);
	weir_err rv = check_prepare(c, sql, t->name, &s);
	return rv != WEIR_OK || s == NULL
	    ? rv
	    : check_rows(c, s, t->name, check_column_row);
}

// Column 0 is the row number, 1 the event's seq, 2.. the event.
static weir_err
check_decode_row(check_run *c, sqlite3_stmt *s, const char *table)
{
	weir_event *ev;
	uint64_t    row = (uint64_t) sqlite3_column_int64(s, 0);
	weir_err    rv  = weir__codec_row_event(
	        s, 2, (uint64_t) sqlite3_column_int64(s, 1), &ev);
	weir_event_release(ev);
	if (rv == WEIR_ECORRUPT) {
		check_report(c, WEIR_STORE_DAMAGE_DECODE, table, row,
		    "table %s, %s %llu: the event does not decode "
		    "(malformed headers or an invalid topic)",
		    table, strcmp(table, "events") ? "dead letter" : "seq",
		    (unsigned long long) row);
		rv = WEIR_OK;
	}
	return rv;
}

// Decodes the rows whose columns passed (the others are reported).
static weir_err
check_decode(check_run *c, const check_table *t)
{
	char          sql[1536];
	sqlite3_stmt *s;
	snprintf(sql, sizeof(sql),
	    "SELECT %s, %s, id, ts, topic, key, headers, payload FROM %s "
	    "WHERE (%s) IS NULL",
	    t->row, strcmp(t->name, "events") ? "coalesce(seq,0)" : "seq",
	    t->name, t->cases);
	weir_err rv = check_prepare(c, sql, t->name, &s);
	return rv != WEIR_OK || s == NULL
	    ? rv
	    : check_rows(c, s, t->name, check_decode_row);
}

static weir_err
check_all(check_run *c)
{
	weir_err rv = check_integrity(c);
	for (size_t i = 0; rv == WEIR_OK &&
	     i < sizeof(check_tables) / sizeof(check_tables[0]);
	     i++) {
		const check_table *t = &check_tables[i];
		int                exists;
		rv = check_exists(c, t->name, &exists);
		if (rv == WEIR_OK && exists) {
			rv = check_columns(c, t);
		}
		if (rv == WEIR_OK && exists && strcmp(t->row, "0") != 0) {
			rv = check_decode(c, t);
		}
	}
	return rv;
}

weir_err
weir_store_check_report(weir_store *st, weir_store_check_fn fn, void *arg)
{
	check_run c = { .st = st, .fn = fn, .arg = arg };
	if (st == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK || (rv = weir__readers_get(st, &c.db)) != WEIR_OK) {
		return rv;
	}
	int rc = sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL);
	rv     = rc == SQLITE_OK ? check_all(&c)
	                         : weir__store_sqlerr(st, c.db, rc, "check");
	(void) sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL);
	weir__readers_put(st, c.db);
	if (rv == WEIR_OK && c.count > 0) {
		rv = weir__store_fail(st, WEIR_ECORRUPT,
		    "store check: %llu problem%s; the first: %s",
		    (unsigned long long) c.count, c.count > 1 ? "s" : "",
		    c.first);
	}
	return rv;
}

weir_err
weir_store_check(weir_store *st)
{
	return weir_store_check_report(st, NULL, NULL);
}
