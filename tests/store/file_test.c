/*
 * The store's file: only a regular file is opened (nothing is created
 * beside a directory, a FIFO or a device), and the store, its -wal and
 * its -shm are 0600 whatever the umask and whether or not they existed.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fixture.h"

static int
fx_dir_only(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	*state = f;
	return 0;
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
