/*
 * SQLite's result codes, extended ones included, map to weir's errors
 * (store.c weir__store_map_rc(), which every store error goes through).
 * Most codes also arrive through the public API in other tests (full
 * store, I/O faults, out of memory, damaged files); this covers every
 * row of the table, also the ones a test cannot provoke on demand
 * (SQLITE_LOCKED, SQLITE_PERM).
 */
#include <sqlite3.h>

#include "fixture.h"
#include "store/store.h"

static void
test_every_row(void **state)
{
	(void) state;
	static const struct {
		int      rc;
		weir_err want;
	} rows[] = {
		{ SQLITE_OK, WEIR_OK },
		{ SQLITE_NOMEM, WEIR_ENOMEM },
		// Out of memory in the VFS (regression: was WEIR_EIO).
		{ SQLITE_IOERR_NOMEM, WEIR_ENOMEM },
		{ SQLITE_READONLY, WEIR_EREADONLY },
		{ SQLITE_READONLY_DBMOVED, WEIR_EREADONLY },
		{ SQLITE_PERM, WEIR_EREADONLY },
		{ SQLITE_IOERR, WEIR_EIO },
		{ SQLITE_IOERR_FSYNC, WEIR_EIO },
		{ SQLITE_FULL, WEIR_ENOSPC },
		{ SQLITE_CORRUPT, WEIR_ECORRUPT },
		{ SQLITE_CORRUPT_INDEX, WEIR_ECORRUPT },
		{ SQLITE_NOTADB, WEIR_ENOTSTORE },
		{ SQLITE_BUSY, WEIR_EBUSY },
		{ SQLITE_BUSY_SNAPSHOT, WEIR_EBUSY },
		{ SQLITE_LOCKED, WEIR_EBUSY },
		{ SQLITE_TOOBIG, WEIR_ETOOBIG },
		{ SQLITE_ERROR, WEIR_ESTORE },
		{ SQLITE_CONSTRAINT_UNIQUE, WEIR_ESTORE },
		{ SQLITE_MISUSE, WEIR_ESTORE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		weir_err got = weir__store_map_rc(rows[i].rc);
		if (got != rows[i].want) {
			fail_msg("SQLite code %d: %s, want %s", rows[i].rc,
			    weir_err_name(got), weir_err_name(rows[i].want));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
