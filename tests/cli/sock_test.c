/*
 * The weir tool's UNIX socket helpers (src/cli/sock.c): a path too
 * long, nobody listening, a live listener in the way, a stale socket
 * file replaced, writes to a closed peer, reads past one buffer, and
 * the failures only injection reaches: socket(), bind(), listen(),
 * read() and write() failing or interrupted (EINTR), realloc() failing.
 */
#include "weir_test.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/sock.h"
#include "libc_fail.h"

int     __real_socket(int domain, int type, int proto);
int     __wrap_socket(int domain, int type, int proto);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int     __real_listen(int fd, int backlog);
int     __wrap_listen(int fd, int backlog);

static int socket_fail_at, socket_calls; /* the call that fails */
static int read_eintr, write_eintr;      /* calls left to interrupt */
static int listen_fail;

int
__wrap_listen(int fd, int backlog)
{
	if (listen_fail) {
		errno = EADDRINUSE;
		return -1;
	}
	return __real_listen(fd, backlog);
}

int
__wrap_socket(int domain, int type, int proto)
{
	if (socket_fail_at > 0 && ++socket_calls == socket_fail_at) {
		errno = EMFILE;
		return -1;
	}
	return __real_socket(domain, type, proto);
}

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	if (read_eintr > 0) {
		read_eintr--;
		errno = EINTR;
		return -1;
	}
	return __real_read(fd, buf, n);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	if (write_eintr > 0) {
		write_eintr--;
		errno = EINTR;
		return -1;
	}
	return __real_write(fd, buf, n);
}

static void
fail_socket(int at)
{
	socket_calls   = 0;
	socket_fail_at = at;
}

static void
test_paths(void **state)
{
	(void) state;
	char long_path[200];
	memset(long_path, 'p', sizeof long_path - 1);
	long_path[sizeof long_path - 1] = '\0';
	assert_int_equal(weir__sock_listen(long_path), -1);
	assert_int_equal(weir__sock_connect(long_path), -1);
	unlink("sock_test.sock");
	assert_int_equal(weir__sock_connect("sock_test.sock"), -1);
	assert_int_equal(weir__sock_listen("no/such/dir/s.sock"), -1);
	/* a live listener is in the way; once it is gone, its stale file
	 * is replaced */
	int l = weir__sock_listen("sock_test.sock");
	assert_true(l >= 0);
	assert_int_equal(weir__sock_listen("sock_test.sock"), -1);
	int c = weir__sock_connect("sock_test.sock");
	assert_true(c >= 0);
	close(c);
	close(l);
	struct stat sb;
	assert_int_equal(stat("sock_test.sock", &sb), 0);
	l = weir__sock_listen("sock_test.sock");
	assert_true(l >= 0);
	close(l);
	/* socket() failing: for the probe, for the listener, to connect */
	fail_socket(1);
	l = weir__sock_listen("sock_test.sock");
	assert_true(l >= 0); /* no probe: nobody known to listen */
	close(l);
	fail_socket(2);
	assert_int_equal(weir__sock_listen("sock_test.sock"), -1);
	fail_socket(1);
	assert_int_equal(weir__sock_connect("sock_test.sock"), -1);
	fail_socket(0);
	/* listen() failing after bind(): -1, and nobody can connect */
	listen_fail = 1;
	assert_int_equal(weir__sock_listen("sock_test.sock"), -1);
	listen_fail = 0;
	assert_int_equal(weir__sock_connect("sock_test.sock"), -1);
	unlink("sock_test.sock");
}

static void
test_io(void **state)
{
	(void) state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* 10,000 bytes: more than read_all's first buffer; one EINTR each */
	static char big[10000];
	memset(big, 'x', sizeof big);
	write_eintr = 1;
	assert_int_equal(weir__sock_write_all(sv[0], big, sizeof big), 0);
	shutdown(sv[0], SHUT_WR);
	read_eintr = 1;
	char *got  = weir__sock_read_all(sv[1]);
	assert_non_null(got);
	assert_int_equal(strlen(got), sizeof big);
	free(got);
	/* a failed realloc, a failed first malloc */
	assert_int_equal(weir__sock_write_all(sv[1], big, sizeof big), 0);
	shutdown(sv[1], SHUT_WR);
	lf_arm(2);
	assert_null(weir__sock_read_all(sv[0]));
	lf_arm(1);
	assert_null(weir__sock_read_all(sv[0]));
	lf_arm(0);
	close(sv[1]);
	/* the peer is gone: EPIPE (SIGPIPE ignored, as weir's main does) */
	assert_int_equal(weir__sock_write_all(sv[0], "x", 1), -1);
	close(sv[0]);
	/* a read error */
	assert_null(weir__sock_read_all(-1));
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_io),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
