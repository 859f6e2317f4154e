/*
 * The gateway's input and commit path (src/cli/gwio.c) in-process, for
 * what the shell tests cannot arrange: the bus refusing the publish
 * after the commit (a full REJECT subscription), in direct mode (the
 * line is not taken) and with a store (it is stored and acked); a
 * client whose acks fail inside a full batch of its own; and an input
 * that ends inside a line over 16 MiB.
 */
#include "weir_test.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "libc_fail.h"

/* main.c is not linked (it has main): its one shared text. */
const char weir__cli_exit_help[] = "exit codes: (gwio_test)\n";

typedef struct gw_fx {
	gateway      gw;
	weir_subscr *full; /* REJECT, capacity 1, already holding one */
	int          in[2], out[2];
	char         dir[64];
} gw_fx;

/* A bus whose only subscription is full and refuses more, and a
 * bridge on it (no routes: the gateway publishes when it has one). */
static void
fx_bus(gw_fx *f)
{
	weir_subscr_config *sc;
	assert_weir_ok(weir_bus_create(&f->gw.bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 1));
	assert_weir_ok(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_REJECT, 0));
	assert_weir_ok(
	    weir_subscribe(&f->full, f->gw.bus, "t.>", NULL, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(f->gw.bus, "t.first", "x", 1, 0, NULL));
	assert_weir_ok(weir_bridge_create(&f->gw.br, f->gw.bus, NULL, NULL));
	f->gw.ack = 1;
	assert_int_equal(pipe(f->in), 0);
	assert_int_equal(pipe(f->out), 0);
}

static void
fx_bus_free(gw_fx *f)
{
	weir_bridge_destroy(f->gw.br);
	weir_bus_destroy(f->gw.bus);
	close(f->out[0]);
	close(f->out[1]);
	close(f->in[1]);
	weir__gw_topics_free(&f->gw);
}

/* Feeds @p text to a client connection and commits its batch, as the
 * gateway's poll loop does for a ready input. */
static void
feed(gw_fx *f, const char *text)
{
	gw_conn *c = weir__gw_conn_new(&f->gw, f->in[0], f->out[1]);
	assert_non_null(c);
	assert_int_equal(
	    write(f->in[1], text, strlen(text)), (ssize_t) strlen(text));
	assert_int_equal(weir__gw_conn_read(&f->gw, c), 0);
	weir__gw_commit(&f->gw);
	weir__gw_conn_free(c); /* closes in[0] */
}

/* The one ack line written to out[0]. */
static json_t *
ack_read(gw_fx *f)
{
	char    buf[1024];
	ssize_t n = read(f->out[0], buf, sizeof buf - 1);
	assert_true(n > 0 && buf[n - 1] == '\n');
	buf[n]    = '\0';
	json_t *o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	return o;
}

/* Direct mode (no store): the bus refusing the publish is the line's
 * answer; nothing is taken. */
static void
test_direct_publish_refused(void **state)
{
	(void) state;
	gw_fx f = { 0 };
	fx_bus(&f);
	feed(&f, "{\"topic\":\"t.x\",\"payload\":\"a\"}\n");
	json_t *o = ack_read(&f);
	assert_false(json_is_true(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    weir_strerror(WEIR_EFULL));
	assert_int_equal(json_integer_value(json_object_get(o, "line")), 1);
	json_decref(o);
	assert_int_equal(f.gw.failed, 1);
	assert_int_equal(f.gw.accepted, 0);
	assert_int_equal(f.gw.store_error, 1);
	fx_bus_free(&f);
}

/* With a store: the event is stored before the publish, so a refused
 * publish is only reported (the routes read the store); the line is
 * acked with its seq. */
static void
test_stored_publish_refused(void **state)
{
	(void) state;
	gw_fx f = { 0 };
	char  path[128], msg[128];
	fx_bus(&f);
	snprintf(f.dir, sizeof f.dir, "gwio-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(path, sizeof path, "%s/log.db", f.dir);
	assert_weir_ok(weir_store_open(&f.gw.st, path, NULL, msg, sizeof msg));
	feed(&f, "{\"topic\":\"t.x\",\"payload\":\"a\"}\n");
	json_t *o = ack_read(&f);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
	json_decref(o);
	assert_int_equal(f.gw.failed, 0);
	assert_int_equal(f.gw.accepted, 1);
	uint64_t last = 0;
	assert_weir_ok(weir_store_last_seq(f.gw.st, &last));
	assert_int_equal(last, 1);
	weir_store_destroy(f.gw.st);
	fx_bus_free(&f);
	char p[160];
	snprintf(p, sizeof p, "rm -rf '%s'", f.dir);
	assert_int_equal(system(p), 0);
}

/* A client that stops reading its acks: the ack of its 512th line,
 * committed inside the read (a full batch), fails, and the read says
 * the client is done; the lines after it in the same read are still
 * parsed, and committed by the caller. */
static void
test_acks_fail_in_full_batch(void **state)
{
	(void) state;
	gateway gw = { .ack = 1 };
	int     in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	close(out[0]); /* the client went away */
	gw_conn *c = weir__gw_conn_new(&gw, in[0], out[1]);
	assert_non_null(c);
	const char *line = "{\"topic\":\"t.x\",\"payload\":\"a\"}\n";
	for (int i = 0; i < GW_BATCH + 3; i++)
		assert_int_equal(
		    write(in[1], line, strlen(line)), (ssize_t) strlen(line));
	assert_int_equal(weir__gw_conn_read(&gw, c), -1);
	assert_int_equal(c->eof, 1);
	assert_int_equal(gw.accepted, GW_BATCH);
	assert_int_equal(gw.nbatch, 3);
	weir__gw_commit(&gw);
	assert_int_equal(gw.accepted, GW_BATCH + 3);
	assert_int_equal(gw.ack_error, 0); /* a client, not stdout */
	weir__gw_conn_free(c);
	close(in[1]);
	close(out[1]);
	weir__gw_topics_free(&gw);
}

/* An input that ends inside a refused long line: the refusal is the
 * line's only answer; the bytes after the first 16 MiB are not a line
 * of their own. */
static void
test_eof_while_skipping(void **state)
{
	(void) state;
	gateway gw = { .ack = 1 };
	int     out[2];
	char    path[] = "gwio-long-XXXXXX";
	int     fd     = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	char *big = malloc(GW_MAX_LINE + 10);
	assert_non_null(big);
	memset(big, 'x', GW_MAX_LINE + 10);
	assert_int_equal(
	    write(fd, big, GW_MAX_LINE + 10), (ssize_t) GW_MAX_LINE + 10);
	free(big);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(pipe(out), 0);
	gw_conn *c = weir__gw_conn_new(&gw, fd, out[1]);
	assert_non_null(c);
	int reads = 0;
	while (weir__gw_conn_read(&gw, c) == 0)
		assert_true(++reads < 10000);
	assert_int_equal(c->skipping, 1);
	assert_int_equal(gw.lines, 1);
	assert_int_equal(gw.rejected, 1);
	assert_int_equal(gw.nbatch, 0);
	char    buf[512];
	ssize_t n = read(out[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "line longer than 16 MiB"));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* one ack */
	weir__gw_conn_free(c);                            /* closes fd */
	close(out[0]);
	close(out[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a write to a closed pipe: EPIPE */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_publish_refused),
		cmocka_unit_test(test_stored_publish_refused),
		cmocka_unit_test(test_acks_fail_in_full_batch),
		cmocka_unit_test(test_eof_while_skipping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
