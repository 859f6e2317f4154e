/*
 * A real full filesystem: a small tmpfs mounted by the test (as root;
 * otherwise the test is skipped with a message, except under CI=true,
 * where CI runs as root and a skip would hide the test). Appends get
 * WEIR_ENOSPC, nothing acknowledged is lost, appends resume when space
 * returns and the WAL is checkpointed and truncated then; an open that
 * fails on the full disk leaves no file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fixture.h"

#define FS_BYTES (6 * 1024 * 1024)
#define FILLER_BYTES (3 * 1024 * 1024)

static int
fs_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	*state = f;
	if (geteuid() != 0) {
		return 0;
	}
	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=6m,mode=0700") != 0) {
		print_error(
		    "mount tmpfs on %s: %s\n", f->dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
fs_teardown(void **state)
{
	fx *f = *state;
	weir_store_destroy(f->st);
	if (geteuid() == 0) {
		umount2(f->dir, MNT_DETACH);
	}
	fx_rmdir(f->dir);
	free(f);
	return 0;
}

static void
need_root(void)
{
	if (geteuid() == 0) {
		return;
	}
	wt_skip_unless_ci("mounting a tmpfs needs root");
}

// Writes @p bytes (0: until the disk is full) to @p path.
static void
fill(const char *path, size_t bytes)
{
	static char block[64 * 1024];
	int         fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (size_t n = 0; bytes == 0 || n < bytes; n += sizeof(block)) {
		if (write(fd, block, sizeof(block)) <= 0) {
			break;
		}
	}
	close(fd);
}

static off_t
size_of(const char *path, const char *suffix)
{
	char        p[700];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0 ? sb.st_size : 0;
}

static weir_err
append_16k(weir_store *st, int i)
{
	static char     payload[16 * 1024];
	weir_event     *ev;
	weir_event_init init = { .size = sizeof(init),
		.topic                 = "fill.up",
		.payload               = payload,
		.payload_len           = sizeof(payload) };
	payload[0]           = (char) i;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_err rv = weir_store_append(st, ev, NULL, NULL, NULL);
	weir_event_release(ev);
	return rv;
}

static int
count_events(weir_store *st)
{
	fx_got *g = calloc(1, sizeof(*g));
	assert_weir_ok(weir_store_read_all(st, 0, 0, fx_collect, g));
	int n = (int) g->n;
	free(g);
	return n;
}

// Regression: after ENOSPC the WAL never shrank, so freeing space
// helped little.
static void
test_enospc_then_space_returns(void **state)
{
	fx  *f = *state;
	char filler[600];
	need_root();
	snprintf(filler, sizeof(filler), "%s/filler", f->dir);
	fill(filler, FILLER_BYTES);
	fx_open(f);
	int      acked = 0;
	weir_err rv    = WEIR_OK;
	while (acked < 1000 && (rv = append_16k(f->st, acked)) == WEIR_OK) {
		acked++;
	}
	assert_weir_err(rv, WEIR_ENOSPC);
	off_t full_wal = size_of(f->path, "-wal");
	assert_true(full_wal > FILLER_BYTES / 2);
	assert_int_equal(count_events(f->st), acked);
	unlink(filler);
	assert_weir_ok(append_16k(f->st, acked++));
	off_t after = size_of(f->path, "-wal");
	if (after >= full_wal / 4) {
		print_error("WAL %lld bytes at ENOSPC, %lld after space "
		            "returned\n",
		    (long long) full_wal, (long long) after);
		fail();
	}
	assert_weir_ok(append_16k(f->st, acked++));
	assert_int_equal(count_events(f->st), acked);
}

// Regression: an open that failed on a full disk left an empty file.
static void
test_failed_open_leaves_nothing(void **state)
{
	fx  *f = *state;
	char filler[600];
	char msg[256];
	need_root();
	snprintf(filler, sizeof(filler), "%s/filler", f->dir);
	fill(filler, 0);
	weir_err rv = weir_store_open(&f->st, f->path, NULL, msg, sizeof(msg));
	assert_int_not_equal(rv, WEIR_OK);
	assert_true(rv == WEIR_ENOSPC || rv == WEIR_EIO);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(size_of(f->path, "-wal"), 0);
	assert_int_equal(size_of(f->path, "-journal"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_enospc_then_space_returns, fs_setup, fs_teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_open_leaves_nothing, fs_setup, fs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
