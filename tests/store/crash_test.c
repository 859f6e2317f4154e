/*
 * Crash safety: a child process appends while the parent SIGKILLs it 20
 * times at random moments over 100,000 appends. The child reports each
 * append through a pipe once it is committed (acknowledged); after every
 * kill the parent reopens the store and checks that every acknowledged
 * append is there, that seq has no gap, and that SQLite's integrity
 * check passes. WEIR_TEST_SCALE shrinks the appends (not the kills) for
 * slow sanitizer builds; WEIR_TEST_SEED replays a run.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "fixture.h"

#define KILLS 20

static uint32_t total_appends;

static void
make_id(uint32_t index, uint8_t id[16])
{
	memset(id, 0xc5, 16);
	for (int i = 0; i < 4; i++) {
		id[i] = (uint8_t) (index >> (24 - 8 * i));
	}
	id[6] = 0x70; // keep it shaped like a UUIDv7
}

typedef struct child {
	int fd;
} child;

static void
child_ack(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) seq;
	(void) version;
	uint32_t   index = (uint32_t) (uintptr_t) arg;
	static int fd    = -1;
	if (fd < 0) {
		fd = (int) strtol(getenv("WEIR_CRASH_FD"), NULL, 10);
	}
	if (err != WEIR_OK) {
		_exit(3);
	}
	ssize_t n = write(fd, &index, sizeof(index));
	(void) n;
}

// The child: append from @p next to the end, each ack after its commit.
static void
child_main(const char *path, uint32_t next, int fd)
{
	char        fdtext[16], payload[32];
	weir_store *st;
	snprintf(fdtext, sizeof(fdtext), "%d", fd);
	setenv("WEIR_CRASH_FD", fdtext, 1);
	if (weir_store_open(&st, path, NULL, NULL, 0) != WEIR_OK) {
		_exit(2);
	}
	for (uint32_t i = next; i < total_appends; i++) {
		uint8_t     id[16];
		weir_event *ev;
		make_id(i, id);
		snprintf(payload, sizeof(payload), "%u", i);
		weir_event_init        init = { .size = sizeof(init),
			       .topic                 = "crash.test",
			       .id                    = id,
			       .payload               = payload,
			       .payload_len           = strlen(payload) };
		weir_store_append_opts opt  = { .size = sizeof(
                                                   weir_store_append_opts),
			 .flags = WEIR_STORE_APPEND_NOWAIT,
			 .done  = child_ack,
			 .arg   = (void *) (uintptr_t) i };
		if (weir_event_new(&ev, &init) != WEIR_OK ||
		    weir_store_append(st, ev, &opt, NULL, NULL) != WEIR_OK) {
			_exit(4);
		}
		weir_event_release(ev);
	}
	weir_store_destroy(st);
	_exit(0);
}

typedef struct verify {
	uint64_t expect;
	int      bad;
} verify;

static weir_err
verify_event(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	verify *v = arg;
	uint8_t id[16];
	(void) st;
	(void) stream;
	(void) version;
	make_id((uint32_t) (v->expect - 1), id);
	if (weir_event_seq(ev) != v->expect ||
	    memcmp(weir_event_id(ev), id, 16) != 0) {
		if (v->bad++ == 0) {
			print_error("seq %llu: expected seq %llu\n",
			    (unsigned long long) weir_event_seq(ev),
			    (unsigned long long) v->expect);
		}
	}
	v->expect++;
	return WEIR_OK;
}

// Reopens the store and returns how many appends it holds, checking
// that they are exactly appends 0..n-1 at seq 1..n and n >= acked.
static uint32_t
verify_store(const char *path, int64_t acked)
{
	weir_store *st;
	char        msg[256];
	verify      v  = { .expect = 1 };
	weir_err    rv = weir_store_open(&st, path, NULL, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		print_error("reopen: %s\n", msg);
		fail();
	}
	assert_weir_ok(weir_store_check(st));
	assert_weir_ok(weir_store_read_all(st, 0, 0, verify_event, &v));
	assert_int_equal(v.bad, 0);
	uint32_t n = (uint32_t) (v.expect - 1);
	if ((int64_t) n < acked + 1) {
		print_error(
		    "lost acknowledged appends: %u present, ack %lld\n", n,
		    (long long) acked);
		fail();
	}
	weir_store_destroy(st);
	return n;
}

// Reads acks until @p target acks arrived or the child is gone.
static int
read_acks(int fd, int64_t *acked, int64_t target)
{
	uint32_t buf[1024];
	while (*acked < target) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return 0; // EOF: the child finished or died
		}
		// Writes of 4 bytes to a pipe are atomic: n is a multiple.
		*acked = (int64_t) buf[n / 4 - 1];
	}
	return 1;
}

static void
drain_acks(int fd, int64_t *acked)
{
	read_acks(fd, acked, INT64_MAX);
}

static uint32_t
run_child(fx *f, uint32_t next, int64_t *acked, int64_t kill_after,
    unsigned *seed, int *killed)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(f->path, next, fds[1]);
	}
	close(fds[1]);
	*killed = 0;
	if (kill_after >= 0 && read_acks(fds[0], acked, kill_after)) {
		// A random moment after the target: mid-batch, mid-fsync, or
		// mid-checkpoint.
		struct timespec ts = { 0,
			(long) (rand_r(seed) % 3000) * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		*killed = 1;
	}
	drain_acks(fds[0], acked);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!*killed) {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	} else if (WIFEXITED(status)) {
		*killed = 0; // it finished before the signal landed
	}
	return verify_store(f->path, *acked);
}

static void
test_kill_during_appends(void **state)
{
	fx         *f     = *state;
	const char *scale = getenv("WEIR_TEST_SCALE");
	const char *s     = getenv("WEIR_TEST_SEED");
	unsigned    seed  = s ? (unsigned) atoi(s) : (unsigned) time(NULL);
	double      k     = scale ? atof(scale) : 1.0;
	total_appends     = (uint32_t) (100000 * (k > 0 && k < 1 ? k : 1.0));
	print_message("seed %u, %u appends\n", seed, total_appends);
	weir_store_destroy(f->st); // no open handle across fork()
	f->st          = NULL;
	uint32_t next  = 0;
	int64_t  acked = -1;
	int      kills = 0, killed;
	while (kills < KILLS) {
		// Spread the kills so that about 1/(left+1) of what remains
		// goes in each run, with the moment randomised.
		uint32_t left  = total_appends - next;
		uint32_t share = left / (uint32_t) (KILLS - kills + 1);
		int64_t  after = (int64_t) next +
		    (share ? (int64_t) (rand_r(&seed) % share) : 0);
		next = run_child(f, next, &acked, after, &seed, &killed);
		kills += killed;
		assert_true(next < total_appends || kills == KILLS);
	}
	next = run_child(f, next, &acked, -1, &seed, &killed);
	assert_int_equal(next, total_appends);
	assert_int_equal(acked, (int64_t) total_appends - 1);
	print_message("%d kills, %u appends verified\n", kills, next);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_kill_during_appends, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
