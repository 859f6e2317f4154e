/*
 * TLS to NATS through the real bridge (label integration). The test
 * makes a CA and a server certificate for 127.0.0.1 with openssl (in a
 * temporary directory), starts a nats-server of its own that requires
 * TLS (JetStream on, its store in the same directory) on a free port,
 * and stops it by pid at the end. Then:
 *
 *   - the server really is TLS-only: a plaintext CONNECT gets no PONG;
 *   - without a trusted CA (tls:// or nats:// URL), or with a CA that
 *     did not sign the server's certificate, weir_bridge_start fails
 *     with a text naming nats.url and the TLS failure: never a
 *     plaintext connection, since the server takes none;
 *   - with nats.tls.ca_file the bridge connects (a nats:// URL is
 *     upgraded) and an event is acknowledged by the stream;
 *   - nats.tls.ca_file naming a missing file fails at register, naming
 *     the option.
 *
 * The nats-server binary: $WEIR_NATS_SERVER, else the one
 * scripts/brokers.sh caches (${WEIR_BROKER_CACHE:-~/.cache/weir}/
 * nats-server-<version>/nats-server), else nats-server on PATH or in
 * /usr/sbin (Debian's). Without it or openssl the tests skip (fail with
 * CI=true).
 */
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <weir/nats.h>

#include "brokers.h"

typedef struct tls_server {
	char  dir[512];
	char  bin[512];
	char  url_tls[64];
	char  url_nats[64];
	char  ca[600];
	char  other_ca[600];
	int   port;
	pid_t pid;
} tls_server;

static tls_server srv;

/* Runs a shell command (paths are ours, under srv.dir); 0 on success. */
static int tls_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
tls_sh(const char *fmt, ...)
{
	char    cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int
tls_exec_ok(const char *path)
{
	return path[0] != '\0' && access(path, X_OK) == 0;
}

/* The nats-server binary, in the order of the file's comment. */
static int
tls_find_server(char *out, size_t cap)
{
	const char *env   = getenv("WEIR_NATS_SERVER");
	const char *cache = getenv("WEIR_BROKER_CACHE");
	const char *home  = getenv("HOME");
	char        pat[600];
	glob_t      g;
	if (env != NULL && tls_exec_ok(env))
		return snprintf(out, cap, "%s", env) > 0;
	if (cache != NULL)
		snprintf(
		    pat, sizeof pat, "%s/nats-server-*/nats-server", cache);
	else
		snprintf(pat, sizeof pat,
		    "%s/.cache/weir/nats-server-*/nats-server",
		    home != NULL ? home : "/nonexistent");
	if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(out, cap, "%s", g.gl_pathv[g.gl_pathc - 1]);
		globfree(&g);
		return 1;
	}
	globfree(&g);
	const char *dirs[] = { "/usr/local/bin", "/usr/bin", "/usr/sbin",
		"/bin", "/sbin" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(out, cap, "%s/nats-server", dirs[i]);
		if (tls_exec_ok(out))
			return 1;
	}
	return 0;
}

/* A port nobody listens on now (the server takes it right after). */
static int
tls_free_port(void)
{
	struct sockaddr_in a  = { .sin_family = AF_INET };
	socklen_t          n  = sizeof a;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr     = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &n), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A CA (@p name.pem) and, when @p server, a server certificate for
 * IP 127.0.0.1 signed by it (server.pem, server.key). */
static int
tls_make_certs(const char *name, int server)
{
	const char *d  = srv.dir;
	int         rv = tls_sh("cd '%s' && openssl req -x509 -newkey ec "
	                                "-pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	                                "-keyout %s.key -out %s.pem -days 2 "
	                                "-subj /CN=weir-test-%s >>openssl.log 2>&1",
	            d, name, name, name);
	if (rv != 0 || !server)
		return rv;
	return tls_sh("cd '%s' && printf 'subjectAltName=IP:127.0.0.1\\n' "
	              ">san.cnf && openssl req -newkey ec -pkeyopt "
	              "ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
	              "-out server.csr -subj /CN=127.0.0.1 >>openssl.log 2>&1 "
	              "&& openssl x509 -req -in server.csr -CA %s.pem -CAkey "
	              "%s.key -CAcreateserial -out server.pem -days 2 "
	              "-extfile san.cnf >>openssl.log 2>&1",
	    d, name, name);
}

static void
tls_write_conf(void)
{
	char  path[600];
	FILE *f;
	snprintf(path, sizeof path, "%s/server.conf", srv.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	    "listen: 127.0.0.1:%d\n"
	    "jetstream { store_dir: \"%s/js\" }\n"
	    "tls {\n  cert_file: \"%s/server.pem\"\n"
	    "  key_file: \"%s/server.key\"\n  timeout: 5\n}\n",
	    srv.port, srv.dir, srv.dir, srv.dir);
	fclose(f);
}

/* Connects a plain TCP socket to the server, with 5 s I/O timeouts. */
static int
tls_dial(void)
{
	struct sockaddr_in a  = { .sin_family = AF_INET };
	struct timeval     tv = { .tv_sec = 5 };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr     = htonl(INADDR_LOOPBACK);
	a.sin_port            = htons((uint16_t) srv.port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *) &a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads what the server says first (its INFO line) into @p buf. */
static ssize_t
tls_read_some(int fd, char *buf, size_t cap)
{
	ssize_t n          = recv(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Waits (30 s at most) until the server sends its INFO. */
static int
tls_wait_ready(void)
{
	int64_t end = wt_now_ms() + 30000;
	char    buf[2048];
	while (wt_now_ms() < end) {
		int fd = tls_dial();
		if (fd >= 0) {
			ssize_t n = tls_read_some(fd, buf, sizeof buf);
			close(fd);
			if (n > 0 && strncmp(buf, "INFO ", 5) == 0)
				return 1;
		}
		if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
			srv.pid = 0;
			return 0; /* the server exited: see server.log */
		}
		usleep(20000);
	}
	return 0;
}

static void
tls_spawn(void)
{
	char conf[600], log[600];
	snprintf(conf, sizeof conf, "%s/server.conf", srv.dir);
	snprintf(log, sizeof log, "%s/server.log", srv.dir);
	srv.pid = fork();
	assert_true(srv.pid >= 0);
	if (srv.pid == 0) {
		FILE *f = freopen(log, "w", stdout);
		if (f != NULL)
			dup2(fileno(f), 2);
		execl(srv.bin, srv.bin, "-c", conf, (char *) NULL);
		_exit(127);
	}
}

/* Skips (fails with CI=true) when a tool is missing. */
static int
tls_need(int ok, const char *what)
{
	if (ok)
		return 0;
	if (bk_in_ci())
		fail_msg("CI=true and no %s", what);
	print_message("no %s: skipped\n", what);
	return 1;
}

static int
tls_group_setup(void **state)
{
	(void) state;
	const char *base = getenv("WEIR_TEST_DIR");
	if (tls_need(
	        tls_find_server(srv.bin, sizeof srv.bin), "nats-server") ||
	    tls_need(
	        tls_sh("openssl version >/dev/null 2>&1") == 0, "openssl"))
		return 0;
	snprintf(srv.dir, sizeof srv.dir, "%s/weir-tls-XXXXXX",
	    base != NULL ? base : ".");
	assert_non_null(mkdtemp(srv.dir));
	/* A real path: the server resolves relative ones from its cwd. */
	char *real = realpath(srv.dir, NULL);
	snprintf(srv.dir, sizeof srv.dir, "%s", real);
	free(real);
	if (tls_make_certs("ca", 1) != 0 || tls_make_certs("other", 0) != 0)
		fail_msg("openssl failed: see %s/openssl.log", srv.dir);
	snprintf(srv.ca, sizeof srv.ca, "%s/ca.pem", srv.dir);
	snprintf(srv.other_ca, sizeof srv.other_ca, "%s/other.pem", srv.dir);
	srv.port = tls_free_port();
	snprintf(
	    srv.url_tls, sizeof srv.url_tls, "tls://127.0.0.1:%d", srv.port);
	snprintf(srv.url_nats, sizeof srv.url_nats, "nats://127.0.0.1:%d",
	    srv.port);
	tls_write_conf();
	tls_spawn();
	if (!tls_wait_ready())
		fail_msg("nats-server %s did not start: see %s/server.log",
		    srv.bin, srv.dir);
	return 0;
}

static int
tls_group_teardown(void **state)
{
	(void) state;
	if (srv.pid > 0) {
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	if (srv.dir[0] != '\0' && getenv("WEIR_TLS_KEEP") == NULL)
		tls_sh("rm -rf '%s'", srv.dir);
	return 0;
}

/* No server (the setup skipped): skipped, but a failure with CI=true. */
#define TLS_NEED_SERVER()                                                   \
	do {                                                                \
		if (srv.pid <= 0) {                                         \
			if (bk_in_ci())                                     \
				fail_msg("CI=true and no TLS nats-server"); \
			skip();                                             \
		}                                                           \
	} while (0)

/* ---- the cases ------------------------------------------------------ */

/* The server under test takes no plaintext client, so whatever works
 * below is TLS. */
static void
test_server_refuses_plaintext(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	char buf[2048];
	int  fd = tls_dial();
	assert_true(fd >= 0);
	assert_true(tls_read_some(fd, buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, "\"tls_required\":true"));
	const char *hello = "CONNECT {\"verbose\":false}\r\nPING\r\n";
	assert_true(send(fd, hello, strlen(hello), MSG_NOSIGNAL) > 0);
	ssize_t n = tls_read_some(fd, buf, sizeof buf);
	print_message("plaintext CONNECT: %s\n", n > 0 ? buf : "(closed)");
	assert_null(strstr(buf, "PONG"));
	close(fd);
}

/* A bridge with the nats backend and @p kv (NULL-terminated pairs,
 * nats.url and TLS options) and one route to a fresh stream. */
static weir_err
tls_bridge_start(bt *t, const char *const *kv, char *stream, size_t cap)
{
	char        subj[96];
	const char *all[24];
	size_t      n = 0;
	bk_unique(stream, cap, "TLS");
	snprintf(subj, sizeof subj, "%s.>", stream);
	all[n++] = "nats.stream";
	all[n++] = stream;
	all[n++] = "nats.stream.subjects";
	all[n++] = subj;
	all[n++] = "nats.timeout_ms";
	all[n++] = "5000";
	for (; *kv != NULL && n + 3 < sizeof all / sizeof all[0]; kv++)
		all[n++] = *kv;
	all[n] = NULL;
	bk_open(t, all, weir_backend_nats());
	snprintf(subj, sizeof subj, "%s.{topic}", stream);
	if (weir_bridge_route_add(
	        t->br, "r", "tls.>", "nats", subj, "key", NULL) != WEIR_OK)
		fail_msg("route: %s", weir_bridge_errmsg(t->br));
	return weir_bridge_start(t->br);
}

/* Start is refused with a text that names nats.url and says TLS. */
static void
tls_expect_refused(const char *const *kv)
{
	bt       t;
	char     stream[64];
	weir_err e = tls_bridge_start(&t, kv, stream, sizeof stream);
	char     msg[512];
	snprintf(msg, sizeof msg, "%s", weir_bridge_errmsg(t.br));
	print_message("%s: %s\n", weir_err_name(e), msg);
	assert_int_equal(e, WEIR_EBACKEND);
	assert_non_null(strstr(msg, "nats.url"));
	assert_true(strstr(msg, "SSL") != NULL || strstr(msg, "TLS") != NULL ||
	    strstr(msg, "certificate") != NULL);
	bt_close(&t);
}

static void
test_tls_url_without_ca_refused(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_tls, NULL };
	tls_expect_refused(kv);
}

/* A nats:// URL to a TLS-only server: cnats upgrades (the server asks
 * for TLS), the certificate is still checked, so no CA: refused. */
static void
test_nats_url_without_ca_not_downgraded(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_nats, NULL };
	tls_expect_refused(kv);
}

static void
test_tls_flag_without_ca_refused(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_nats, "nats.tls", "true",
		NULL };
	tls_expect_refused(kv);
}

static void
test_wrong_ca_refused(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_tls, "nats.tls.ca_file",
		srv.other_ca, NULL };
	tls_expect_refused(kv);
}

/* With the CA the bridge connects and the stream acknowledges an
 * event (over TLS: the server takes nothing else). */
static void
tls_expect_delivered(const char *const *kv)
{
	bt       t;
	char     stream[64];
	weir_err e = tls_bridge_start(&t, kv, stream, sizeof stream);
	if (e != WEIR_OK)
		fail_msg("start: %s", weir_bridge_errmsg(t.br));
	bt_publish(&t, "tls.a", "k", 1);
	BT_WAIT(&t, "r", s.acked == 1);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	bt_close(&t);
}

static void
test_tls_url_with_ca_delivers(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_tls, "nats.tls.ca_file",
		srv.ca, NULL };
	tls_expect_delivered(kv);
}

static void
test_nats_url_with_ca_upgraded(void **state)
{
	(void) state;
	TLS_NEED_SERVER();
	const char *kv[] = { "nats.url", srv.url_nats, "nats.tls.ca_file",
		srv.ca, NULL };
	tls_expect_delivered(kv);
}

/* No server needed: the CA file is read at register. */
static void
test_missing_ca_file_names_option(void **state)
{
	(void) state;
	bt          t;
	const char *kv[] = { "nats.url", "tls://127.0.0.1:1",
		"nats.tls.ca_file", "/nonexistent/weir-ca.pem", NULL };
	bt_open(&t, kv);
	weir_err e = weir_bridge_register(t.br, weir_backend_nats());
	print_message("%s: %s\n", weir_err_name(e), weir_bridge_errmsg(t.br));
	assert_int_equal(e, WEIR_EINVAL);
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "nats.tls.ca_file"));
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_refuses_plaintext),
		cmocka_unit_test(test_tls_url_without_ca_refused),
		cmocka_unit_test(test_nats_url_without_ca_not_downgraded),
		cmocka_unit_test(test_tls_flag_without_ca_refused),
		cmocka_unit_test(test_wrong_ca_refused),
		cmocka_unit_test(test_tls_url_with_ca_delivers),
		cmocka_unit_test(test_nats_url_with_ca_upgraded),
		cmocka_unit_test(test_missing_ca_file_names_option),
	};
	return cmocka_run_group_tests(
	    tests, tls_group_setup, tls_group_teardown);
}
