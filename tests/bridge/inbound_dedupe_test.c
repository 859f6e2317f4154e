/*
 * Inbound de-duplication and ids: the same id twice is one event (done
 * for both), ids come from ce_id / Nats-Msg-Id or are derived stably,
 * and the inbox still knows an id whose event was trimmed from the log.
 */
#include "inbound_fixture.h"

#include "store/inbox.h"

#define ID1 "0190a5d8-8a3e-7b2c-9f00-000000000001"

static weir_err
first_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	memcpy(arg, weir_event_id(ev), 16);
	return WEIR_OK;
}

static void
log_first_id(bt *t, uint8_t id[16])
{
	memset(id, 0, 16);
	assert_weir_ok(weir_store_read(t->st, NULL, first_fn, id));
}

static void
test_same_id_twice(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "orders", ID1, "kafka:orders/0/1");
	it_push(src, 2, "orders", ID1, "kafka:orders/0/2"); /* re-sent */
	it_wait_done(src, 2);
	assert_int_equal(it_log_count(&t, ">"), 1);
	uint8_t got[16], want[16];
	log_first_id(&t, got);
	assert_weir_ok(weir_uuid_parse(ID1, want));
	assert_memory_equal(got, want, 16); /* weir's own id, as it is */
	weir_inlet *in = weir__bridge_inlet(t.br, "in");
	assert_int_equal(atomic_load(&in->appended), 1);
	assert_int_equal(atomic_load(&in->duplicates), 1);
	bt_close(&t);
}

/* A redelivered foreign message without an id keeps its coordinates. */
static void
test_same_coord_twice(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "orders", NULL, "kafka:orders/3/77");
	it_push(src, 2, "orders", NULL, "kafka:orders/3/78");
	it_push(src, 3, "orders", NULL, "kafka:orders/3/77");
	it_wait_done(src, 3);
	assert_int_equal(it_log_count(&t, ">"), 2);
	bt_close(&t);
}

static void
id_of(weir_inbound_msg *m, char out[37])
{
	uint8_t id[16];
	weir__inbound_id(m, id);
	weir_uuid_format(id, out);
}

/* The derivation is frozen: these values (checked against an independent
 * Python rendering of docs/bridge.md's definition) must never change, or every
 * message redelivered after an upgrade would look new. */
static void
test_derived_ids_frozen(void **state)
{
	(void) state;
	char             out[37];
	weir_header      ce[2] = { { "ce_id", "order-17", 8 },
		     { "ce_source", "/shop", 5 } };
	weir_inbound_msg m     = { .size = sizeof m,
		    .headers             = ce,
		    .header_count        = 2,
		    .coord               = "kafka:t/0/5" };
	id_of(&m, out);
	assert_string_equal(out, "23f0e94f-34af-8580-8081-75ccfbeed97f");
	ce[1].value = "/other"; /* another producer's order-17 */
	ce[1].len   = 6;
	char other[37];
	id_of(&m, other);
	assert_string_not_equal(out, other);
	m.header_count = 0; /* no id at all: the coordinates */
	id_of(&m, out);
	assert_string_equal(out, "2ca2742c-4dea-8888-a034-1988d314e79c");
	weir_header nid = { "Nats-Msg-Id", "abc", 3 };
	m.headers       = &nid;
	m.header_count  = 1;
	id_of(&m, out);
	assert_string_equal(out, "ed83c268-5d93-84ea-9bae-92a53e17644c");
	weir_header up = { "ce-id", ID1, 36 }; /* NATS binding, a UUID */
	m.headers      = &up;
	id_of(&m, out);
	assert_string_equal(out, ID1);
}

static void
test_core_nats_fresh(void **state)
{
	(void) state;
	weir_inbound_msg m = { .size = sizeof m };
	uint8_t          a[16], b[16];
	weir__inbound_id(&m, a);
	weir__inbound_id(&m, b);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(a[6] >> 4, 7); /* a plain UUIDv7 */
}

/* An id whose event was trimmed from the log is still a duplicate. */
static void
test_inbox_outlives_log(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "orders", ID1, NULL);
	it_wait_done(src, 1);
	uint64_t last, gone = 0;
	assert_weir_ok(weir_store_last_seq(t.st, &last));
	assert_weir_ok(weir_store_trim(t.st, last + 1, 0, &gone));
	assert_int_equal(it_log_count(&t, ">"), 0);
	it_push(src, 2, "orders", ID1, NULL);
	it_wait_done(src, 2);
	assert_int_equal(it_log_count(&t, ">"), 0);
	bt_close(&t);
}

static void
test_inbox_prune(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	char coord[32];
	for (uint64_t i = 1; i <= 10; i++) {
		snprintf(coord, sizeof coord, "kafka:orders/0/%llu",
		    (unsigned long long) i);
		it_push(src, i, "orders", NULL, coord);
	}
	it_wait_done(src, 10);
	uint64_t n, pruned, last, gone = 0;
	/* The inbox holds the ids of events trimmed from the log. */
	assert_weir_ok(weir__store_inbox_count(t.st, &n));
	assert_int_equal(n, 0);
	assert_weir_ok(weir_store_last_seq(t.st, &last));
	assert_weir_ok(weir_store_trim(t.st, last + 1, 0, &gone));
	assert_weir_ok(weir__store_inbox_count(t.st, &n));
	assert_int_equal(n, 10);
	assert_weir_ok(weir__store_inbox_prune(t.st, 0, 4, &pruned));
	assert_weir_ok(weir__store_inbox_count(t.st, &n));
	assert_true(n >= 4 && n < 10); /* the newest 4 (and ties) stay */
	assert_int_equal(pruned, 10 - n);
	int64_t future = INT64_MAX / 2; /* by age: everything is older */
	assert_weir_ok(weir__store_inbox_prune(t.st, future, 0, &pruned));
	assert_weir_ok(weir__store_inbox_count(t.st, &n));
	assert_int_equal(n, 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_id_twice),
		cmocka_unit_test(test_same_coord_twice),
		cmocka_unit_test(test_derived_ids_frozen),
		cmocka_unit_test(test_core_nats_fresh),
		cmocka_unit_test(test_inbox_outlives_log),
		cmocka_unit_test(test_inbox_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
