/*
 * Secrets planted in the bridge's configuration (kafka.sasl.password, a
 * bad value of an option, nats.password, nats.token, the password of
 * nats.url) never appear in anything the bridge says: its errmsg, the
 * backends' texts it relays, the stats JSON, the dead letters' reasons,
 * and whatever the process writes on stdout and stderr (librdkafka's and
 * cnats's own logs included, with librdkafka's debug output on). The
 * scenario runs in a child whose stdout and stderr go to a file; the
 * parent searches the file. With real brokers (scripts/brokers.sh) the
 * scenario also fails authentication and dead-letters events; without,
 * only the unreachable and bad-option parts run.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include <weir/kafka.h>
#include <weir/nats.h>

#include "brokers.h"

#define SECRET "PLANTED-SECRET"

static weir_err
secret_dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) arg;
	printf("dead letter %s: %s\n", dl->origin, dl->message);
	return WEIR_OK;
}

/* Registers @p ops on a fresh bridge with @p kv; starts a route "r"
 * (a.> -> @p dest) with partial start, publishes two events, waits for
 * them to be done (or not), prints every text the bridge gives. */
static void
secret_case(const char *what, const weir_backend_ops *ops, const char *dest,
    const char *const *kv)
{
	bt t;
	bt_open(&t, kv);
	printf("== %s\n", what);
	weir_err e = weir_bridge_register(t.br, ops);
	printf(
	    "register: %s: %s\n", weir_err_name(e), weir_bridge_errmsg(t.br));
	if (e == WEIR_OK) {
		weir_bridge_route_add(
		    t.br, "r", "a.>", ops->scheme, dest, "key", NULL);
		weir_bridge_route_add(
		    t.br, "m", "m.>", "mem", "out", "key", NULL);
		e = weir_bridge_start(t.br);
		printf("start: %s: %s\n", weir_err_name(e),
		    weir_bridge_errmsg(t.br));
		printf("refused: %s\n",
		    weir_bridge_route_refused(t.br, "r")
		        ? weir_bridge_route_refused(t.br, "r")
		        : "-");
		bt_publish(&t, "a.b", "k", 1);
		bt_publish(&t, "a.b", "k", 2);
		weir_store_flush(t.st);
		int64_t end = wt_now_ms() + 20000;
		while (e == WEIR_OK && wt_now_ms() < end &&
		    weir_bridge_route_refused(t.br, "r") == NULL &&
		    bt_stats(&t, "r").dead + bt_stats(&t, "r").acked < 2)
			usleep(10000);
	}
	char *js = weir_bus_stats_json(t.bus);
	printf("stats: %s\n", js ? js : "-");
	weir_free(js);
	weir_bridge_stop(t.br);
	weir_store_dead_list(t.st, NULL, 0, secret_dead_fn, NULL);
	fflush(stdout);
	bt_close(&t);
}

static void
secret_scenario(void)
{
	char        kb[256], nb[256], url[300];
	const char *kafka = bk_env("WEIR_KAFKA_BOOTSTRAP", kb, sizeof kb);
	const char *nats  = bk_env("WEIR_NATS_URL", nb, sizeof nb);
	const char *bad_option[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.sasl.password", SECRET "-k1", "kafka.security.protocol",
		SECRET "-k2", NULL };
	secret_case(
	    "kafka: bad option value", weir_backend_kafka(), "t", bad_option);
	const char *sasl[] = { "kafka.bootstrap.servers",
		kafka ? kafka : "127.0.0.1:1", "kafka.security.protocol",
		"SASL_PLAINTEXT", "kafka.sasl.mechanisms", "PLAIN",
		"kafka.sasl.username", "weir", "kafka.sasl.password",
		SECRET "-k3", "kafka.debug", "broker,security,conf,protocol",
		"kafka.weir.connect.timeout.ms", "3000",
		"bridge.start.partial", "1", NULL };
	secret_case(
	    "kafka: authentication fails", weir_backend_kafka(), "t", sasl);
	if (kafka != NULL) { /* started, events dead-lettered */
		const char *plain[] = { "kafka.bootstrap.servers", kafka,
			"kafka.sasl.password", SECRET "-k4",
			"kafka.ssl.key.password", SECRET "-k5", "kafka.debug",
			"broker,msg", "bridge.retry.max_attempts", "2", NULL };
		secret_case("kafka: dead letters", weir_backend_kafka(),
		    "weir/bad/topic", plain);
	}
	snprintf(url, sizeof url, "nats://weir:%s-n1@127.0.0.1:1", SECRET);
	const char *unreach[] = { "nats.url", url, "nats.password",
		SECRET "-n2", "nats.max_reconnect", "0",
		"bridge.start.partial", "1", NULL };
	secret_case("nats: unreachable", weir_backend_nats(), "x", unreach);
	if (nats != NULL) {
		const char *h = strstr(nats, "://");
		snprintf(url, sizeof url, "nats://weir:%s-n3@%s", SECRET,
		    h ? h + 3 : nats);
		const char *up[] = { "nats.url", url, "nats.token",
			SECRET "-n4", "bridge.retry.max_attempts", "2",
			"nats.ack_timeout_ms", "500", NULL };
		secret_case("nats: token refused, or dead letters",
		    weir_backend_nats(), "weirsecret.nostream", up);
	}
}

static void
test_secret_never_shown(void **state)
{
	(void) state;
	bt t;
	memset(&t, 0, sizeof t);
	bt_dir(&t);
	char out[700];
	snprintf(out, sizeof out, "%s/output.txt", t.dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(2);
		setvbuf(stdout, NULL, _IONBF, 0);
		secret_scenario();
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	char  *line = NULL;
	size_t cap = 0, lines = 0, leaks = 0, named = 0;
	while (getline(&line, &cap, f) > 0) {
		lines++;
		named += strstr(line, "kafka.security.protocol") != NULL;
		if (strncmp(line, "==", 2) == 0 ||
		    strncmp(line, "register:", 9) == 0 ||
		    strncmp(line, "start:", 6) == 0 ||
		    strncmp(line, "dead letter", 11) == 0)
			print_message("  %s", line); /* what was searched */
		if (strstr(line, SECRET) != NULL && leaks++ < 5)
			print_error("leak: %s", line);
	}
	free(line);
	fclose(f);
	print_message("%zu lines of output searched\n", lines);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(named > 0); /* the capture holds the errors */
	assert_int_equal(leaks, 0);
	bt_rmdir(t.dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_never_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
