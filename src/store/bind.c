// Checked binds: see bind.h.
#include "store/bind.h"
#include "store/store.h"

void
weir__bind_init(weir__bind *b, sqlite3_stmt *s)
{
	b->stmt = s;
	b->rc   = SQLITE_OK;
	b->max  = sqlite3_bind_parameter_count(s);
}

// Records @p rc unless an earlier failure is kept already.
static void
bind_keep(weir__bind *b, int rc)
{
	if (b->rc == SQLITE_OK) {
		b->rc = rc;
	}
}

void
weir__bind_int64(weir__bind *b, int i, int64_t v)
{
	if (i <= b->max) {
		bind_keep(b, sqlite3_bind_int64(b->stmt, i, v));
	}
}

void
weir__bind_text(weir__bind *b, int i, const char *text)
{
	if (i > b->max) {
		return;
	}
	bind_keep(b,
	    text == NULL
	        ? sqlite3_bind_null(b->stmt, i)
	        : sqlite3_bind_text(b->stmt, i, text, -1, SQLITE_STATIC));
}

void
weir__bind_blob(weir__bind *b, int i, const void *p, size_t len)
{
	if (i > b->max) {
		return;
	}
	bind_keep(b,
	    len == 0 ? sqlite3_bind_null(b->stmt, i)
	             : sqlite3_bind_blob64(b->stmt, i, p, len, SQLITE_STATIC));
}

weir_err
weir__bind_check(
    const weir__bind *b, weir_store *st, sqlite3 *db, const char *what)
{
	return b->rc == SQLITE_OK ? WEIR_OK
	                          : weir__store_sqlerr(st, db, b->rc, what);
}
