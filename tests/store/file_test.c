/*
 * The store's file: only a regular file is opened (nothing is created
 * beside a directory, a FIFO or a device), and the store, its -wal and
 * its -shm are 0600 whatever the umask and whether or not they existed.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

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
		// A block device node (a loop device's numbers; never
		// opened: the type is refused first).
		assert_int_equal(
		    mknod(f->path, S_IFBLK | 0600, makedev(7, 0)), 0);
		open_refused(f->path, "block device");
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

// A store directly under "/" (its directory is "/", not ""): the test
// directory made the root with chroot(2) for an open and a close, then
// the real root restored through a descriptor kept open; the store made
// there is a private, sound store. Needs root (CAP_SYS_CHROOT); skipped
// otherwise.
static void
test_store_under_root(void **state)
{
	fx  *f = *state;
	char cwd[1024], msg[256];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	if (chroot(f->dir) != 0) {
		close(root);
		wt_skip_unless_ci("chroot refused (needs CAP_SYS_CHROOT)");
	}
	weir_store *st = NULL;
	weir_err    rv = WEIR_EIO;
	if (chdir("/") == 0) {
		rv = weir_store_open(&st, "/log.db", NULL, msg, sizeof(msg));
	}
	weir_store_destroy(st);
	// back to the real root before anything can fail
	int back = fchdir(root) == 0 && chroot(".") == 0 && chdir(cwd) == 0;
	close(root);
	assert_true(back);
	if (rv != WEIR_OK) {
		fail_msg("open /log.db under chroot: %s", msg);
	}
	assert_int_equal(mode_of(f->path, ""), 0600);
	fx_open(f);
	assert_weir_ok(weir_store_check(f->st));
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

extern char **environ;

// Sets or clears the immutable flag of @p path (root, and a file system
// that has it); 0 if it could. Through chattr(1), not the ioctl: its
// header is Linux-only, and the poll stage builds every test as a
// non-Linux system would (without chattr the test skips).
static int
set_immutable(const char *path, int on)
{
	char *argv[] = { "chattr", on ? "+i" : "-i", "--", (char *) path,
		NULL };
	pid_t pid;
	int   status;
	if (posix_spawnp(&pid, "chattr", NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid) {
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
open_readonly(const char *path, const char *why)
{
	weir_store *st = (weir_store *) 1;
	char        msg[256];
	weir_err    rv = weir_store_open(&st, path, NULL, msg, sizeof(msg));
	if (rv != WEIR_EREADONLY) {
		print_error("%s: %s: %s\n", path, weir_err_name(rv), msg);
		weir_store_destroy(rv == WEIR_OK ? st : NULL);
		fail();
	}
	assert_null(st);
	assert_non_null(strstr(msg, why));
}

// A directory that stat() finds but nobody may write (even root: a
// read-only /proc/sys): WEIR_EREADONLY, before anything is created.
static void
test_unwritable_directory(void **state)
{
	(void) state;
	if (access("/proc/sys", W_OK) == 0) {
		skip(); // writable here: nothing to test
	}
	open_readonly("/proc/sys/weir-store-test.db", "is not writable");
}

// An existing store file that may not be written (immutable: refused
// even to root): WEIR_EREADONLY naming the file; nothing changed.
static void
test_immutable_store(void **state)
{
	fx *f = *state;
	fx_open(f);
	weir_store_destroy(f->st);
	f->st = NULL;
	if (set_immutable(f->path, 1) != 0) {
		wt_skip_unless_ci(
		    "chattr +i failed (not root, or no such flag)");
	}
	char        msg[256];
	weir_store *st = (weir_store *) 1;
	weir_err    rv = weir_store_open(&st, f->path, NULL, msg, sizeof(msg));
	assert_int_equal(set_immutable(f->path, 0), 0);
	assert_int_equal(rv, WEIR_EREADONLY);
	assert_null(st);
	assert_non_null(strstr(msg, "cannot open"));
	assert_non_null(strstr(msg, "log.db"));
	fx_open(f); // writable again: it opens
}

// A -wal left with a wider mode that cannot be changed (immutable):
// the store is not opened with a file others may read beside it
// (WEIR_EREADONLY).
static void
test_immutable_sidecar(void **state)
{
	fx  *f = *state;
	char wal[700];
	fx_open(f);
	weir_store_destroy(f->st);
	f->st = NULL;
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	int fd = open(wal, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	if (set_immutable(wal, 1) != 0) {
		unlink(wal);
		wt_skip_unless_ci(
		    "chattr +i failed (not root, or no such flag)");
	}
	char        msg[256];
	weir_store *st = (weir_store *) 1;
	weir_err    rv = weir_store_open(&st, f->path, NULL, msg, sizeof(msg));
	assert_int_equal(set_immutable(wal, 0), 0);
	if (rv == WEIR_OK) {
		weir_store_destroy(st);
	}
	// SQLite opens the -wal for writing first, and that fails.
	assert_int_equal(rv, WEIR_EREADONLY);
	assert_null(st);
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
		cmocka_unit_test_setup_teardown(
		    test_store_under_root, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_unwritable_directory, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_immutable_store, fx_dir_only, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_immutable_sidecar, fx_dir_only, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
