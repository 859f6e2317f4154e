/*
 * The loop's poller backend (epoll or poll, LOOP_BACKEND) where it can
 * fail: no descriptors left when a loop is made (RLIMIT_NOFILE lowered
 * and every descriptor under it taken), allocations failing, and the
 * watch edge cases (the same fd set twice, a stop after the fd was closed,
 * a file epoll cannot watch, more watches than the first arrays hold).
 * Each failure must be a clean error that leaks no descriptor and no
 * memory; the loop must keep working after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/poller.h"
#include "fault_alloc.h"
#include "weir_test.h"

#define FILL_LIMIT 128

static int           fill_fds[FILL_LIMIT];
static int           fill_n;
static struct rlimit fill_saved;

// Lowers the soft descriptor limit to FILL_LIMIT, takes every descriptor
// under it, then gives back @p spare of them.
static void
fd_fill(int spare)
{
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &fill_saved), 0);
	struct rlimit r = fill_saved;
	r.rlim_cur      = FILL_LIMIT;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &r), 0);
	int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(base >= 0);
	fill_n             = 0;
	fill_fds[fill_n++] = base;
	int fd;
	while ((fd = fcntl(base, F_DUPFD_CLOEXEC, 0)) >= 0) {
		assert_true(fill_n < FILL_LIMIT);
		fill_fds[fill_n++] = fd;
	}
	assert_int_equal(errno, EMFILE);
	for (int i = 0; i < spare; i++) {
		close(fill_fds[--fill_n]);
	}
}

// How many descriptors are free now (it takes and gives them back).
static int
fd_free_count(void)
{
	int got[FILL_LIMIT];
	int n = 0;
	while (n < FILL_LIMIT &&
	    (got[n] = fcntl(fill_fds[0], F_DUPFD_CLOEXEC, 0)) >= 0) {
		n++;
	}
	for (int i = 0; i < n; i++) {
		close(got[i]);
	}
	return n;
}

static void
fd_unfill(void)
{
	while (fill_n > 0) {
		close(fill_fds[--fill_n]);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &fill_saved), 0);
}

static void
on_timer(weir_timer *t, void *arg)
{
	(*(int *) arg)++;
	weir_timer_stop(t);
}

// With 0, 1, 2... descriptors free a loop (and a bus) either is made or
// fails with WEIR_ENOMEM having closed what it opened; with enough it
// is made, and it runs.
static void
test_no_descriptors(void **state)
{
	(void) state;
	assert_string_equal(weir_loop_backend(), LOOP_BACKEND);
	int failures = 0;
	for (int spare = 0;; spare++) {
		weir_loop *loop = (weir_loop *) 1;
		fd_fill(spare);
		weir_err rv = weir_loop_create(&loop);
		if (rv != WEIR_OK) {
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_int_equal(fd_free_count(), spare);
			weir_bus *bus = (weir_bus *) 1;
			assert_weir_err(
			    weir_bus_create(&bus, NULL), WEIR_ENOMEM);
			assert_null(bus);
			assert_int_equal(fd_free_count(), spare);
			fd_unfill();
			failures++;
			continue;
		}
		fd_unfill();
		int         n = 0;
		weir_timer *t;
		assert_weir_ok(weir_timer_start(&t, loop, 0, 0, on_timer, &n));
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
		assert_int_equal(n, 1);
		assert_weir_ok(weir_loop_destroy(loop));
		break;
	}
	// epoll needs its set and an eventfd, poll a pipe (two).
	assert_int_equal(failures, 2);
}

static void
on_watch(weir_watch *w, int fd, int events, void *arg)
{
	(void) w;
	(void) events;
	char c;
	while (read(fd, &c, 1) == 1) { }
	(*(int *) arg)++;
}

// The backend's own set() with one fd twice: the second changes the
// registration (epoll modifies it, poll updates its entry) and its user
// data is the one reported; removing twice finds nothing the second
// time. (weir_watch_start refuses a second watcher of an fd, so only
// the backend itself reaches this.)
static void
on_ready_ud(void *ud, int events, void *arg)
{
	(void) events;
	*(void **) arg = ud;
}

static void
test_same_fd_twice(void **state)
{
	(void) state;
	weir__poller *pl;
	int           p[2], q[2], a = 1, b = 2, o = 3;
	void         *got = NULL;
	assert_weir_ok(weir__poller_create(&pl));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(pipe2(q, O_NONBLOCK), 0);
	// Another fd first, so that poll's search passes over it.
	assert_weir_ok(weir__poller_set(pl, q[0], WEIR_WATCH_READ, &o));
	assert_weir_ok(weir__poller_set(pl, p[0], WEIR_WATCH_READ, &a));
	assert_weir_ok(weir__poller_set(pl, p[0], WEIR_WATCH_READ, &b));
	assert_int_equal(write(p[1], "x", 1), 1);
	weir__poller_wait(pl, 1000, on_ready_ud, &got);
	assert_ptr_equal(got, &b);
	assert_weir_ok(weir__poller_set(pl, p[0], 0, NULL));
	weir__poller_set(pl, p[0], 0, NULL); // nothing left to remove
	assert_int_equal(write(q[1], "x", 1), 1);
	got = NULL;
	weir__poller_wait(pl, 1000, on_ready_ud, &got);
	assert_ptr_equal(got, &o); // p[0] is readable but no longer watched
	weir__poller_destroy(pl);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(q[i]);
	}
}

static void
test_stop_after_close(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_watch *w;
	int         p[2], n = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_weir_ok(
	    weir_watch_start(&w, loop, p[0], WEIR_WATCH_READ, on_watch, &n));
	int old = p[0];
	close(p[0]);
	close(p[1]);
	weir_watch_stop(w);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(p[0], old);
	assert_weir_ok(
	    weir_watch_start(&w, loop, p[0], WEIR_WATCH_READ, on_watch, &n));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(n, 1);
	weir_watch_stop(w);
	close(p[0]);
	close(p[1]);
	assert_weir_ok(weir_loop_destroy(loop));
}

// A regular file: epoll refuses it (WEIR_EINVAL, nothing registered);
// poll watches it (always ready).
static void
test_regular_file(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_watch *w      = NULL;
	int         n      = 0;
	char        path[] = "/tmp/weir_poller_XXXXXX";
	int         fd     = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_weir_ok(weir_loop_create(&loop));
	weir_err rv =
	    weir_watch_start(&w, loop, fd, WEIR_WATCH_READ, on_watch, &n);
	if (strcmp(LOOP_BACKEND, "epoll") == 0) {
		assert_weir_err(rv, WEIR_EINVAL);
		assert_null(w);
	} else {
		assert_weir_ok(rv);
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
		assert_int_equal(n, 1);
		weir_watch_stop(w);
	}
	close(fd);
	assert_weir_ok(weir_loop_destroy(loop));
}

// Allocations fail one after the other in weir_loop_create() and in
// weir_watch_start() with more watches than the first arrays hold:
// WEIR_ENOMEM, nothing leaked, the watches made so far still fire.
static void
test_enomem(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	int failures = 0;
	for (long a = 1;; a++) {
		weir_loop *loop;
		long       live = live_allocs;
		fi_arm(a);
		weir_err rv = weir_loop_create(&loop);
		fail_at     = 0;
		if (rv != WEIR_OK) {
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_int_equal(live_allocs, live);
			failures++;
			continue;
		}
		assert_weir_ok(weir_loop_destroy(loop));
		break;
	}
	assert_true(failures >= 1);

	enum { NW = 12 };
	weir_loop  *loop;
	weir_watch *w[NW];
	int         p[NW][2], n[NW] = { 0 };
	assert_weir_ok(weir_loop_create(&loop));
	for (int i = 0; i < NW; i++) {
		assert_int_equal(pipe2(p[i], O_NONBLOCK), 0);
		// poll's arrays may keep a grown block after a later
		// allocation failed (they own it): the count at the end
		// says whether anything leaked.
		for (long a = 1;; a++) {
			fi_arm(a);
			weir_err rv = weir_watch_start(&w[i], loop, p[i][0],
			    WEIR_WATCH_READ, on_watch, &n[i]);
			fail_at     = 0;
			if (rv == WEIR_OK) {
				break;
			}
			assert_weir_err(rv, WEIR_ENOMEM);
		}
	}
	for (int i = 0; i < NW; i++) {
		assert_int_equal(write(p[i][1], "x", 1), 1);
	}
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	for (int i = 0; i < NW; i++) {
		assert_int_equal(n[i], 1);
		weir_watch_stop(w[i]);
		close(p[i][0]);
		close(p[i][1]);
	}
	assert_weir_ok(weir_loop_destroy(loop));
	weir_set_allocator(NULL);
	assert_int_equal(live_allocs, 0);
}

typedef struct pair {
	weir_watch *w[2];
	int         calls[2];
} pair;

// Each watch's callback stops the other's watch.
static void
on_stop_other(weir_watch *w, int fd, int events, void *arg)
{
	(void) events;
	pair *pr = arg;
	int   me = w == pr->w[1];
	char  c;
	while (read(fd, &c, 1) == 1) { }
	pr->calls[me]++;
	weir_watch_stop(pr->w[!me]);
}

// Two fds ready in one pass, each callback stops the other's watch: the
// one stopped first is not called, though its fd was ready.
static void
test_stopped_in_same_pass(void **state)
{
	(void) state;
	weir_loop *loop;
	int        p[2][2];
	pair       pr = { 0 };
	assert_weir_ok(weir_loop_create(&loop));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe2(p[i], O_NONBLOCK), 0);
		assert_weir_ok(weir_watch_start(&pr.w[i], loop, p[i][0],
		    WEIR_WATCH_READ, on_stop_other, &pr));
		assert_int_equal(write(p[i][1], "x", 1), 1);
	}
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(pr.calls[0] + pr.calls[1], 1);
	weir_watch_stop(pr.calls[0] ? pr.w[0] : pr.w[1]);
	for (int i = 0; i < 2; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	assert_weir_ok(weir_loop_destroy(loop));
}

// Stops its own watch twice while the loop runs: the second does
// nothing (the watch is freed after the pass).
static void
on_stop_self_twice(weir_watch *w, int fd, int events, void *arg)
{
	(void) events;
	char c;
	while (read(fd, &c, 1) == 1) { }
	(*(int *) arg)++;
	weir_watch_stop(w);
	weir_watch_stop(w);
}

static void
test_stop_self_twice(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_watch *w;
	int         p[2], n = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_weir_ok(weir_watch_start(
	    &w, loop, p[0], WEIR_WATCH_READ, on_stop_self_twice, &n));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(n, 1);
	close(p[0]);
	close(p[1]);
	assert_weir_ok(weir_loop_destroy(loop));
}

// A loop destroyed with watches still started frees them (LeakSanitizer
// checks in the asan stage); the fds stay the caller's.
static void
test_destroy_with_watches(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_watch *w[2];
	int         p[2], n = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_weir_ok(weir_watch_start(
	    &w[0], loop, p[0], WEIR_WATCH_READ, on_watch, &n));
	assert_weir_ok(weir_watch_start(
	    &w[1], loop, p[1], WEIR_WATCH_WRITE, on_watch, &n));
	assert_weir_ok(weir_loop_destroy(loop));
	assert_int_equal(write(p[1], "x", 1), 1); // still open
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_descriptors),
		cmocka_unit_test(test_same_fd_twice),
		cmocka_unit_test(test_stop_after_close),
		cmocka_unit_test(test_regular_file),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_stopped_in_same_pass),
		cmocka_unit_test(test_stop_self_twice),
		cmocka_unit_test(test_destroy_with_watches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
