/*
 * The store's file: only a regular file is opened (nothing is created
 * beside a directory, a FIFO or a device), and the store, its -wal and
 * its -shm are 0600 whatever the umask and whether or not they existed.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "fixture.h"

static int
fx_dir_only(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	*state = f;
	return 0;
}

static void
make_regular(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static int
exists(const char *path, const char *suffix)
{
	char p[700];
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

static void
open_refused(const char *path, const char *what)
{
	weir_store *st = NULL;
	char        msg[256];
	weir_err    rv = weir_store_open(&st, path, NULL, msg, sizeof(msg));
	if (rv != WEIR_ENOTSTORE) {
		print_error("%s: %s: %s\n", path, weir_err_name(rv), msg);
		weir_store_destroy(st);
		fail();
	}
	assert_null(st);
	assert_non_null(strstr(msg, what));
	assert_false(exists(path, "-journal"));
	assert_false(exists(path, "-wal"));
	assert_false(exists(path, "-shm"));
}

// Regression: a directory, a FIFO or a device gave errors outside the
// documented table, and SQLite could leave a -journal beside a device.
static void
test_not_a_regular_file(void **state)
{
	fx  *f = *state;
	char p[700];
	assert_int_equal(mkdir(f->path, 0700), 0);
	open_refused(f->path, "directory");
	rmdir(f->path);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	open_refused(f->path, "FIFO");
	unlink(f->path);
	if (geteuid() == 0) {
		// A null device of our own, so that nothing lands in /dev.
		assert_int_equal(
		    mknod(f->path, S_IFCHR | 0600, makedev(1, 3)), 0);
		open_refused(f->path, "device");
		unlink(f->path);
	} else {
		open_refused("/dev/null", "device");
	}
	snprintf(p, sizeof(p), "%s-journal", f->path);
	unlink(p);
	// A socket (when the path fits a socket address).
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(f->path) < sizeof(sa.sun_path)) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
		assert_int_equal(
		    bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		open_refused(f->path, "socket");
		close(fd);
		unlink(f->path);
	}
}

static weir_err
try_open(const char *path, char *msg, size_t size)
{
	weir_store *st = NULL;
	weir_err    rv = weir_store_open(&st, path, NULL, msg, size);
	if (rv == WEIR_OK) {
		weir_store_destroy(st);
	} else {
		assert_null(st);
	}
	return rv;
}

// Paths that cannot be a store file: a "directory" that is a regular
// file, and a name longer than the file system allows.
static void
test_bad_paths(void **state)
{
	fx  *f = *state;
	char p[1200], msg[256], name[300];
	make_regular(f->path);
	snprintf(p, sizeof(p), "%s/log.db", f->path);
	assert_weir_err(try_open(p, msg, sizeof(msg)), WEIR_ENOENT);
	assert_non_null(strstr(msg, "does not exist"));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	assert_weir_err(try_open(p, msg, sizeof(msg)), WEIR_EIO);
	assert_non_null(strstr(msg, "cannot open"));
	assert_int_equal(access(p, F_OK), -1);
}

// A path without a directory part is in the working directory.
static void
test_relative_path(void **state)
{
	fx  *f = *state;
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	weir_store *st;
	char        msg[256];
	weir_err rv = weir_store_open(&st, "log.db", NULL, msg, sizeof(msg));
	assert_int_equal(chdir(cwd), 0);
	assert_weir_ok(rv);
	assert_int_equal(fx_append(st, "a.b", "1"), 1);
	weir_store_destroy(st);
	assert_int_equal(access(f->path, F_OK), 0);
}

static unsigned
mode_of(const char *path, const char *suffix)
{
	char        p[700];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	assert_int_equal(stat(p, &sb), 0);
	return (unsigned) sb.st_mode & 07777;
}

static void
make_file(const char *path, const char *suffix, mode_t mode)
{
	char p[700];
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

// Regression: an existing empty store file kept its 0644, and so did
// its -wal and -shm. A new store under umask 0 is 0600 too.
static void
test_modes_0600(void **state)
{
	fx    *f   = *state;
	mode_t old = umask(0);
	make_file(f->path, "", 0644);
	make_file(f->path, "-wal", 0644);
	make_file(f->path, "-shm", 0666);
	fx_open(f);
	assert_int_equal(mode_of(f->path, ""), 0600);
	assert_int_equal(mode_of(f->path, "-wal"), 0600);
	assert_int_equal(mode_of(f->path, "-shm"), 0600);
	fx_append(f->st, "a.b", "1");
	weir_store_destroy(f->st);
	f->st = NULL;
	unlink(f->path);
	fx_open(f);
	assert_int_equal(mode_of(f->path, ""), 0600);
	assert_int_equal(mode_of(f->path, "-wal"), 0600);
	assert_int_equal(mode_of(f->path, "-shm"), 0600);
	umask(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_not_a_regular_file, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_modes_0600, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_paths, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_relative_path, fx_dir_only, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
