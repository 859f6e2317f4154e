/*
 * Storage faults: a full store (max_page_count) and injected I/O errors
 * (a VFS shim over the default one) reach the appender as errors, lose
 * nothing acknowledged, and leave the store usable.
 */
#include <sqlite3.h>
#include <stdatomic.h>

#include "fixture.h"

// ---- the faulty VFS: forwards everything, fails writes or syncs on demand

static atomic_int   fail_writes;
static atomic_int   fail_syncs;
static sqlite3_vfs *real_vfs;

typedef struct faulty_file {
	sqlite3_file  base;
	sqlite3_file *real; // allocated right after this struct
} faulty_file;

#define REAL(f) (((faulty_file *) (f))->real)

static int
ff_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int
ff_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int
ff_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (atomic_load(&fail_writes)) {
		return SQLITE_IOERR_WRITE;
	}
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int
ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int
ff_sync(sqlite3_file *f, int flags)
{
	if (atomic_load(&fail_syncs)) {
		return SQLITE_IOERR_FSYNC;
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int
ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int
ff_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int
ff_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int
ff_check(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int
ff_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int
ff_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int
ff_caps(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int
ff_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int
ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void
ff_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int
ff_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods ff_methods = { 2, ff_close, ff_read, ff_write,
	ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock, ff_check,
	ff_control, ff_sector, ff_caps, ff_shm_map, ff_shm_lock,
	ff_shm_barrier, ff_shm_unmap, NULL, NULL };

// Version 1 methods: no shared memory, as on a VFS that cannot do WAL.
static const sqlite3_io_methods nowal_methods = { 1, ff_close, ff_read,
	ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock, ff_check,
	ff_control, ff_sector, ff_caps, NULL, NULL, NULL, NULL, NULL, NULL };

static int
ff_open(
    sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	faulty_file *ff = (faulty_file *) f;
	ff->real        = (sqlite3_file *) (ff + 1);
	int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	// Version 2 methods: no memory-mapped I/O, so every write is seen.
	ff->base.pMethods = ff->real->pMethods == NULL ? NULL
	    : vfs->pAppData != NULL                    ? &nowal_methods
	                                               : &ff_methods;
	return rc;
}

static sqlite3_vfs faulty_vfs;
static sqlite3_vfs nowal_vfs; // "weir-nowal": pAppData marks it

static void
faulty_register(void)
{
	if (real_vfs != NULL) {
		return;
	}
	real_vfs            = sqlite3_vfs_find(NULL);
	faulty_vfs          = *real_vfs;
	faulty_vfs.zName    = "weir-faulty";
	faulty_vfs.szOsFile = (int) sizeof(faulty_file) + real_vfs->szOsFile;
	faulty_vfs.xOpen    = ff_open;
	faulty_vfs.pAppData = NULL;
	assert_int_equal(sqlite3_vfs_register(&faulty_vfs, 0), SQLITE_OK);
	nowal_vfs          = faulty_vfs;
	nowal_vfs.zName    = "weir-nowal";
	nowal_vfs.pAppData = &nowal_vfs;
	assert_int_equal(sqlite3_vfs_register(&nowal_vfs, 0), SQLITE_OK);
}

// ---- helpers

// Only the directory: the test opens the store itself.
static int
setup_dir(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	*state = f;
	return 0;
}

static int
setup_faulty(void **state)
{
	fx                *f = calloc(1, sizeof(*f));
	weir_store_config *cfg;
	faulty_register();
	atomic_store(&fail_writes, 0);
	atomic_store(&fail_syncs, 0);
	fx_dir(f);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_vfs(cfg, "weir-faulty"));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	*state = f;
	return 0;
}

static weir_err
append_text(weir_store *st, int i, uint64_t *seq)
{
	char        text[1100];
	weir_event *ev;
	memset(text, 'a' + i % 26, sizeof(text));
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "fault.test",
		.payload               = text,
		.payload_len           = sizeof(text) };
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_err rv = weir_store_append(st, ev, NULL, seq, NULL);
	weir_event_release(ev);
	return rv;
}

// Reopens (plainly) and checks that seqs 1..acked are all present,
// dense, and the file is sound.
static void
check_after_reopen(fx *f, uint64_t acked)
{
	weir_store_destroy(f->st);
	fx_open(f);
	fx_got g = { 0 };
	assert_weir_ok(weir_store_check(f->st));
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_true(g.n >= acked);
	for (size_t i = 0; i < g.n; i++) {
		assert_int_equal(g.seq[i], i + 1);
	}
}

// ---- tests

static void
test_full_store(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	uint64_t           seq, acked = 0;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_pages(cfg, 80));
	fx_open_cfg(f, cfg);
	weir_err rv = WEIR_OK;
	int      i  = 0;
	for (; i < 10000 && rv == WEIR_OK; i++) {
		if ((rv = append_text(f->st, i, &seq)) == WEIR_OK) {
			assert_int_equal(seq, acked + 1);
			acked = seq;
		}
	}
	assert_weir_err(rv, WEIR_ENOSPC);
	assert_non_null(strstr(weir_store_errmsg(f->st), "full"));
	assert_true(acked > 10);
	// Still usable: reads work, and after trimming appends fit again.
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, acked);
	assert_weir_err(append_text(f->st, 0, &seq), WEIR_ENOSPC);
	assert_weir_ok(weir_store_trim(f->st, acked / 2, 0, NULL));
	assert_weir_ok(append_text(f->st, 1, &seq));
	assert_int_equal(seq, acked + 1);
	weir_store_destroy(f->st);
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	memset(&g, 0, sizeof(g));
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_int_equal(g.seq[g.n - 1], acked + 1);
	assert_weir_ok(weir_store_check(f->st));
}

typedef struct outcome {
	int      calls;
	weir_err err;
} outcome;

static void
on_done(weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	outcome *o = arg;
	(void) st;
	(void) seq;
	(void) version;
	o->calls++;
	o->err = err;
}

static void
run_io_fault(fx *f, atomic_int *flag)
{
	uint64_t seq, acked = 0;
	for (int i = 0; i < 50; i++) {
		assert_weir_ok(append_text(f->st, i, &seq));
		acked = seq;
	}
	atomic_store(flag, 1);
	assert_weir_err(append_text(f->st, 99, &seq), WEIR_EIO);
	assert_non_null(strstr(weir_store_errmsg(f->st), "I/O"));
	// An asynchronous append learns of it through its callback.
	outcome                o   = { 0 };
	weir_event            *ev  = fx_event("fault.async", "x");
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = on_done,
		.arg                         = &o };
	assert_weir_ok(weir_store_append(f->st, ev, &opt, NULL, NULL));
	assert_weir_err(weir_store_flush(f->st), WEIR_OK);
	assert_int_equal(o.calls, 1);
	assert_weir_err(o.err, WEIR_EIO);
	weir_event_release(ev);
	// The fault clears: the store carries on with the next seq.
	atomic_store(flag, 0);
	assert_weir_ok(append_text(f->st, 100, &seq));
	assert_int_equal(seq, acked + 1);
	acked = seq;
	check_after_reopen(f, acked);
}

static void
test_write_errors(void **state)
{
	run_io_fault(*state, &fail_writes);
}

static void
test_sync_errors(void **state)
{
	run_io_fault(*state, &fail_syncs);
}

// Opens f->path with @p cfg (NULL: SQLite's default VFS), which is the
// VFS without shared memory: refused, the message naming that VFS; the
// file itself is fine, and SQLite's own default VFS opens it.
static void
nowal_refused(fx *f, const weir_store_config *cfg)
{
	weir_store *st = (weir_store *) f; // must become NULL
	char        msg[256];
	weir_err    rv = weir_store_open(&st, f->path, cfg, msg, sizeof(msg));
	assert_int_equal(sqlite3_vfs_register(real_vfs, 1), SQLITE_OK);
	assert_weir_err(rv, WEIR_ENOTSUP);
	assert_null(st);
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, "WAL"));
	assert_non_null(strstr(msg, "weir-nowal"));
	fx_open(f);
	assert_weir_ok(weir_store_check(f->st));
}

// A VFS without shared memory cannot run WAL: SQLite keeps a rollback
// journal and says so only in the pragma's result. The store refuses it.
static void
test_vfs_without_wal(void **state)
{
	weir_store_config *cfg;
	faulty_register();
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_vfs(cfg, "weir-nowal"));
	nowal_refused(*state, cfg);
	weir_store_config_destroy(cfg);
}

// The same VFS made SQLite's default, and a store opened without
// naming one: the message names the default VFS the store got.
static void
test_default_vfs_without_wal(void **state)
{
	faulty_register();
	assert_int_equal(sqlite3_vfs_register(&nowal_vfs, 1), SQLITE_OK);
	nowal_refused(*state, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_full_store, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_write_errors, setup_faulty, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_sync_errors, setup_faulty, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_vfs_without_wal, setup_dir, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_default_vfs_without_wal, setup_dir, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
