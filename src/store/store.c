// Design notes.
//
// Opening a store: check the directory and create the file ourselves
// (mode 0600, so the WAL and shm files SQLite derives from it are 0600
// too), identify and migrate the schema, switch to WAL, then hand the
// connection to the writer thread, which owns it from then on. Every
// other connection is a read-only one from the reader pool.
//
// Closing sets `closed` first, so new calls fail with WEIR_ECLOSED, then
// lets the writer commit what is queued and closes the connections. The
// handle stays valid until weir_store_destroy().
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "store/reader.h"
#include "store/schema.h"
#include "store/store.h"
#include "store/writer.h"

weir_err
weir__store_fail(weir_store *st, weir_err rv, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&st->err_mu);
	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&st->err_mu);
	return rv;
}

weir_err
weir__store_map_rc(int rc)
{
	// Out of memory inside the VFS is an I/O code by family.
	if (rc == SQLITE_IOERR_NOMEM) {
		return WEIR_ENOMEM;
	}
	switch (rc & 0xff) {
	case SQLITE_OK:
		return WEIR_OK;
	case SQLITE_NOMEM:
		return WEIR_ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return WEIR_EREADONLY;
	case SQLITE_IOERR:
		return WEIR_EIO;
	case SQLITE_FULL:
		return WEIR_ENOSPC;
	case SQLITE_CORRUPT:
		return WEIR_ECORRUPT;
	case SQLITE_NOTADB:
		return WEIR_ENOTSTORE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return WEIR_EBUSY;
	case SQLITE_TOOBIG:
		return WEIR_ETOOBIG;
	default:
		return WEIR_ESTORE;
	}
}

weir_err
weir__store_step_done(
    weir_store *st, sqlite3 *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WEIR_OK
	                         : weir__store_sqlerr(st, db, rc, what);
}

weir_err
weir__store_sqlerr(weir_store *st, sqlite3 *db, int rc, const char *what)
{
	const char *text =
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	weir_err rv = weir__store_map_rc(rc);
	return weir__store_fail(st, rv, "%s: %s (%s, SQLite code %d)", what,
	    text, weir_strerror(rv), rc);
}

weir_err
weir__store_check_open(weir_store *st)
{
	if (atomic_load(&st->closed)) {
		return weir__store_fail(st, WEIR_ECLOSED, "store is closed");
	}
	return WEIR_OK;
}

weir_err
weir__store_check_name(weir_store *st, const char *name, const char *what)
{
	size_t len = name != NULL ? strlen(name) : 0;
	if (len == 0 || len > WEIR_STORE_MAX_NAME) {
		return weir__store_fail(st, WEIR_EBADNAME,
		    "invalid %s name: must be 1 to %d bytes", what,
		    WEIR_STORE_MAX_NAME);
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) name[i];
		if (c < 0x20 || c == 0x7f) {
			return weir__store_fail(st, WEIR_EBADNAME,
			    "invalid %s name '%.64s': control character at "
			    "byte %zu",
			    what, name, i);
		}
	}
	return WEIR_OK;
}

weir_err
weir__store_struct_in(weir_store *st, void *dst, size_t dst_size,
    const void *src, size_t min_size, const char *what)
{
	weir_err rv = weir__struct_in(dst, dst_size, src, min_size);
	if (rv == WEIR_EINVAL) {
		size_t size;
		memcpy(&size, src, sizeof(size));
		return weir__store_fail(st, rv,
		    "%s: size %zu is below %zu (set size = sizeof)", what,
		    size, min_size);
	}
	if (rv == WEIR_ENOTSUP) {
		return weir__store_fail(st, rv,
		    "%s: sets fields past the %zu bytes this weir knows", what,
		    dst_size);
	}
	return rv;
}

int64_t
weir__store_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// What a path that is not a regular file is, for the error text.
static const char *
store_file_kind(mode_t mode)
{
	return S_ISDIR(mode) ? "a directory"
	    : S_ISFIFO(mode) ? "a FIFO"
	    : S_ISCHR(mode)  ? "a character device"
	    : S_ISBLK(mode)  ? "a block device"
	    : S_ISSOCK(mode) ? "a socket"
	                     : "not a regular file";
}

static weir_err
store_not_regular(weir_store *st, mode_t mode)
{
	return weir__store_fail(st, WEIR_ENOTSTORE,
	    "'%.200s' is %s, not a regular file: a store is a file", st->path,
	    store_file_kind(mode));
}

// Opens (creating it if needed) the store file before SQLite does, so
// that nothing but a regular file reaches SQLite (which would put a
// -journal or -wal beside a device), and makes it 0600 whatever the
// umask and whether or not it existed. O_NONBLOCK: opening a FIFO must
// not wait for a writer. Records whether this call created the file,
// so that a failed open removes it again.
static weir_err
store_create_file(weir_store *st)
{
	struct stat sb;
	if (stat(st->path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		return store_not_regular(st, sb.st_mode);
	}
	int fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	st->created = fd >= 0;
	if (fd < 0 && errno == EEXIST) {
		fd =
		    open(st->path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	}
	if (fd < 0) {
		int      e  = errno;
		weir_err rv = e == EACCES || e == EROFS || e == EPERM
		    ? WEIR_EREADONLY
		    : WEIR_EIO;
		return weir__store_fail(
		    st, rv, "cannot open '%.200s': %s", st->path, strerror(e));
	}
	weir_err rv = WEIR_OK;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rv = store_not_regular(st, sb.st_mode);
	} else if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
		rv = weir__store_fail(st, WEIR_EREADONLY,
		    "cannot make '%.200s' private (mode 0600): %s", st->path,
		    strerror(errno));
	}
	close(fd);
	return rv;
}

// SQLite gives the -wal and -shm it creates the store file's mode, but
// keeps the mode of files that exist already: narrow them too.
static weir_err
store_private_sidecars(weir_store *st)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	size_t                   size     = strlen(st->path) + 8;
	char                    *p        = weir__alloc(size);
	weir_err                 rv       = WEIR_OK;
	if (p == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < 2 && rv == WEIR_OK; i++) {
		struct stat sb;
		snprintf(p, size, "%s%s", st->path, suffix[i]);
		if (stat(p, &sb) == 0 && (sb.st_mode & 07777) != 0600 &&
		    chmod(p, 0600) != 0) {
			rv = weir__store_fail(st, WEIR_EREADONLY,
			    "cannot make '%.200s' private (mode 0600): %s", p,
			    strerror(errno));
		}
	}
	weir__free(p);
	return rv;
}

// A failed open removes the file it created (and what SQLite made
// beside it), so that a full disk leaves no empty store behind. The
// names are built on the stack: the open may have failed for want of
// memory. open() took the path, so it is shorter than PATH_MAX.
static void
store_remove_created(weir_store *st)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal", "" };
	char                     p[PATH_MAX + 16];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", st->path, suffix[i]);
		(void) unlink(p);
	}
}

// The directory must exist and be writable (SQLite creates the WAL and
// shm files next to the store); a new store file is created 0600.
static weir_err
store_prepare_file(weir_store *st)
{
	char       *dir   = weir__strdup(st->path);
	char       *slash = dir ? strrchr(dir, '/') : NULL;
	struct stat sb;
	if (dir == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	if (slash != NULL) {
		slash[slash == dir ? 1 : 0] = '\0';
	}
	const char *d  = slash != NULL ? dir : ".";
	weir_err    rv = WEIR_OK;
	if (stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		rv = weir__store_fail(
		    st, WEIR_ENOENT, "directory '%.200s' does not exist", d);
	} else if (access(d, W_OK) != 0) {
		rv = weir__store_fail(st, WEIR_EREADONLY,
		    "directory '%.200s' is not writable: %s", d,
		    strerror(errno));
	}
	weir__free(dir);
	if (rv != WEIR_OK) {
		return rv;
	}
	return store_create_file(st);
}

// One writer beside concurrent readers needs WAL. A VFS without shared
// memory (or one that refuses WAL) keeps a rollback journal, and SQLite
// says so only in the pragma's result row: that is an error here, not a
// quiet fallback in which readers and the writer block each other.
static weir_err
store_wal(weir_store *st, sqlite3 *db)
{
	sqlite3_stmt *s        = NULL;
	char          mode[16] = "";
	int           rc =
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *m = sqlite3_column_text(s, 0);
		snprintf(mode, sizeof(mode), "%s", m ? (const char *) m : "");
		rc = SQLITE_OK;
	}
	weir_err rv = rc == SQLITE_OK
	    ? WEIR_OK
	    : weir__store_sqlerr(st, db, rc, "configure");
	sqlite3_finalize(s);
	if (rv == WEIR_OK && strcmp(mode, "wal") != 0) {
		rv = weir__store_fail(st, WEIR_ENOTSUP,
		    "the SQLite VFS '%.64s' does not support WAL (the "
		    "journal stays '%s'); the store needs WAL",
		    st->cfg.vfs ? st->cfg.vfs : sqlite3_vfs_find(NULL)->zName,
		    mode);
	}
	return rv;
}

static weir_err
store_pragmas(weir_store *st, sqlite3 *db)
{
	char     sql[160];
	weir_err rv = store_wal(st, db);
	if (rv != WEIR_OK) {
		return rv;
	}
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s;%s%llu",
	    st->cfg.durability == WEIR_STORE_DURABILITY_FULL ? "FULL"
	                                                     : "NORMAL",
	    st->cfg.max_pages ? " PRAGMA max_page_count=" : " -- ",
	    (unsigned long long) st->cfg.max_pages);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, db, rc, "configure");
	}
	return WEIR_OK;
}

static weir_err
store_open_db(weir_store *st)
{
	sqlite3 *db    = NULL;
	int      flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    SQLITE_OPEN_EXRESCODE;
	weir_err rv = store_prepare_file(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	int rc = sqlite3_open_v2(st->path, &db, flags, st->cfg.vfs);
	if (rc != SQLITE_OK) {
		rv = weir__store_sqlerr(st, db, rc, "open");
		sqlite3_close_v2(db);
		return rv == WEIR_ESTORE && db == NULL ? WEIR_ENOMEM : rv;
	}
	sqlite3_busy_timeout(db, WEIR__STORE_BUSY_MS);
	rv = weir__schema_open(st, db);
	if (rv == WEIR_OK) {
		rv = store_pragmas(st, db);
	}
	if (rv == WEIR_OK) {
		rv = store_private_sidecars(st);
	}
	if (rv != WEIR_OK) {
		sqlite3_close_v2(db);
		return rv;
	}
	return weir__writer_start(st, db); // owns db from here
}

static weir_err
store_open_file(weir_store *st)
{
	weir_err rv = store_open_db(st);
	if (rv != WEIR_OK && st->created) {
		store_remove_created(st);
	}
	st->created = 0;
	return rv;
}

static weir_err
store_alloc(weir_store **out, const char *path, const weir_store_config *cfg)
{
	weir_store *st = weir__zalloc(sizeof(*st));
	if (st == NULL) {
		return WEIR_ENOMEM;
	}
	pthread_mutex_init(&st->err_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&st->cancel_mu, NULL);
	pthread_cond_init(&st->cancel_cv, &ca);
	pthread_condattr_destroy(&ca);
	weir__readers_init(st);
	strcpy(st->errmsg, "no error");
	if (cfg != NULL) {
		st->cfg = *cfg;
	} else {
		weir_store_config *def;
		if (weir_store_config_create(&def) == WEIR_OK) {
			st->cfg = *def;
			weir_store_config_destroy(def);
		}
	}
	st->cfg.vfs = NULL;
	st->path    = weir__strdup(path);
	*out        = st;
	if (st->path == NULL || st->cfg.max_batch == 0 ||
	    (cfg && cfg->vfs &&
	        (st->cfg.vfs = weir__strdup(cfg->vfs)) == NULL)) {
		return WEIR_ENOMEM;
	}
	return WEIR_OK;
}

static void
store_free(weir_store *st)
{
	weir__readers_fini(st);
	pthread_cond_destroy(&st->cancel_cv);
	pthread_mutex_destroy(&st->cancel_mu);
	pthread_mutex_destroy(&st->err_mu);
	weir__free(st->cfg.vfs);
	weir__free(st->path);
	weir__free(st);
}

weir_err
weir_store_open(weir_store **out, const char *path,
    const weir_store_config *cfg, char *errmsg, size_t errmsg_size)
{
	weir_store *st = NULL;
	weir_err    rv = WEIR_EINVAL;
	if (out != NULL) {
		*out = NULL;
	}
	if (out != NULL && path != NULL && *path != '\0') {
		rv = store_alloc(&st, path, cfg);
	}
	if (rv == WEIR_OK && strcmp(path, ":memory:") == 0) {
		rv = weir__store_fail(st, WEIR_ENOTSUP,
		    "in-memory stores are not supported: readers need a file");
	}
	if (rv == WEIR_OK) {
		rv = store_open_file(st);
	}
	if (rv != WEIR_OK && errmsg != NULL && errmsg_size > 0) {
		snprintf(errmsg, errmsg_size, "%s",
		    st && rv != WEIR_ENOMEM ? st->errmsg : weir_strerror(rv));
	}
	if (rv != WEIR_OK && st != NULL) {
		store_free(st);
		st = NULL;
	}
	if (out != NULL) {
		*out = st;
	}
	return rv;
}

void
weir_store_close(weir_store *st)
{
	if (st == NULL || atomic_exchange(&st->closed, 1)) {
		return;
	}
	weir_store_replay_cancel(st);
	weir__readers_close(st);
	weir__writer_stop(st);
}

void
weir_store_destroy(weir_store *st)
{
	if (st != NULL) {
		weir_store_close(st);
		store_free(st);
	}
}

const char *
weir_store_errmsg(const weir_store *st)
{
	return st != NULL ? st->errmsg : "no store";
}

void
weir_store_errmsg_copy(const weir_store *st, char *buf, size_t size)
{
	if (buf == NULL || size == 0) {
		return;
	}
	if (st == NULL) {
		snprintf(buf, size, "no store");
		return;
	}
	weir_store *mst = (weir_store *) st; // the mutex is not state
	pthread_mutex_lock(&mst->err_mu);
	snprintf(buf, size, "%s", st->errmsg);
	pthread_mutex_unlock(&mst->err_mu);
}
