/*
 * The handoff: the relay takes the events its intake appended from
 * memory after their commit, and reads from the store what the handoff
 * lacks: past its byte budget (overflow), after a restart, with the
 * handoff off. Every case ends with each event sent once, in seq order.
 */
#include "fixture.h"

#define HO_KEY "k"

static weir__route *
ho_route(bt *t)
{
	weir__route *rt = weir__bridge_route(t->br, "r");
	assert_non_null(rt);
	return rt;
}

/* One key, so the window sends one at a time: the records must be
 * @p n consecutive seqs from @p first, each once. */
static void
ho_assert_sent(bt *t, size_t n, uint64_t first)
{
	size_t         got;
	weir__mem_rec *r = bt_records(t, &got);
	assert_int_equal(got, n);
	for (size_t i = 0; i < got; i++)
		assert_int_equal(r[i].seq, first + i);
	free(r);
}

static void
ho_start(bt *t, const char *const *kv)
{
	bt_open_route(t, kv, "t.>", "out", "key");
}

static void
ho_publish(bt *t, int n)
{
	for (int i = 0; i < n; i++)
		bt_publish(t, "t.a", HO_KEY, i);
}

/* What the handoff keeps: nothing with a zero budget, only rising seqs,
 * each event at its estimated cost, and only within the budget. */
static void
test_handoff_put_rules(void **state)
{
	(void) state;
	weir_event     *ev;
	weir_header     h    = { "hdr", "value", 5 };
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = "t.a";
	init.key             = "kk";
	init.key_len         = 2;
	init.payload         = "12345678";
	init.payload_len     = 8;
	init.headers         = &h;
	init.header_count    = 1;
	assert_weir_ok(weir_event_new(&ev, &init));
	const size_t  cost = 128 + 3 + 2 + 8 + 32 + 3 + 5;
	weir__handoff ho;
	weir__handoff_init(&ho, 0);
	assert_int_equal(weir__handoff_put(&ho, ev, 1), 0);
	weir__handoff_init(&ho, 2 * cost);
	assert_int_equal(weir__handoff_put(&ho, ev, 5), 1);
	assert_int_equal(ho.bytes, cost);
	assert_int_equal(weir__handoff_put(&ho, ev, 5), 0); /* not above */
	assert_int_equal(weir__handoff_put(&ho, ev, 4), 0);
	assert_int_equal(weir__handoff_put(&ho, ev, 6), 1);
	assert_int_equal(weir__handoff_put(&ho, ev, 7), 0); /* over budget */
	weir__handed out[4];
	assert_int_equal(
	    weir__handoff_take(&ho, 6, out, 4), 1); /* 5 dropped */
	assert_int_equal(out[0].seq, 6);
	assert_ptr_equal(out[0].ev, ev);
	weir_event_release(out[0].ev);
	assert_int_equal(ho.count, 0);
	assert_int_equal(ho.bytes, 0);
	weir__handoff_clear(&ho);
	weir_event_release(ev);
}

static void
test_handoff_from_memory(void **state)
{
	(void) state;
	bt t;
	ho_start(&t, NULL);
	/* A periodic read may find a committed event before its commit
	 * callback hands it over; the total is what matters. In one round
	 * of 200 that read took every event about once in 30 runs, so the
	 * events go in four rounds: each one a fresh chance for the
	 * handoff. */
	for (uint64_t r = 1; r <= 4; r++) {
		ho_publish(&t, 50);
		BT_WAIT(&t, "r", s.acked == 50 * r && s.backlog == 0);
	}
	weir__route *rt = ho_route(&t);
	assert_true(atomic_load(&rt->from_memory) > 0);
	assert_int_equal(
	    atomic_load(&rt->from_memory) + atomic_load(&rt->from_store), 200);
	ho_assert_sent(&t, 200, 1);
	bt_close(&t);
}

/* A budget of about two events: the rest overflow to the store. */
static void
test_handoff_overflow(void **state)
{
	(void) state;
	const char *kv[] = { "bridge.handoff_bytes", "400", "bridge.window",
		"2", NULL };
	bt          t;
	ho_start(&t, kv);
	weir__mem_hold_acks(t.mem, 1);
	ho_publish(&t, 100);
	BT_WAIT(&t, "r", s.sent >= 1 && s.backlog == 100);
	weir__route *rt = ho_route(&t);
	pthread_mutex_lock(&rt->lock);
	assert_true(rt->handoff.bytes <= 400);
	pthread_mutex_unlock(&rt->lock);
	weir__mem_hold_acks(t.mem, 0);
	BT_WAIT(&t, "r", s.acked == 100 && s.backlog == 0);
	assert_true(atomic_load(&rt->from_store) > 0);
	assert_int_equal(
	    atomic_load(&rt->from_memory) + atomic_load(&rt->from_store), 100);
	ho_assert_sent(&t, 100, 1);
	bt_close(&t);
}

/* Stopped with events in the handoff: the next bridge over the same
 * store reads them back from the store and sends each once. */
static void
test_handoff_restart(void **state)
{
	(void) state;
	const char *kv[] = { "bridge.window", "1", NULL };
	bt          t;
	ho_start(&t, kv);
	weir__mem_hold_acks(t.mem, 1);
	ho_publish(&t, 50);
	BT_WAIT(&t, "r", s.sent == 1 && s.backlog == 50);
	weir__route *rt  = ho_route(&t);
	int64_t      end = wt_now_ms() + BT_DEADLINE_MS;
	size_t       held;
	do { /* the commits of all 50 reach the handoff */
		pthread_mutex_lock(&rt->lock);
		held = rt->handoff.count;
		pthread_mutex_unlock(&rt->lock);
	} while (held < 49 && wt_now_ms() < end && usleep(1000) == 0);
	/* 49, or 50 when the relay read the first event from the store
	 * before its commit reached the handoff */
	assert_true(held >= 49);
	weir_bridge_destroy(t.br); /* the held ack is never answered */
	t.br = NULL;
	bt_bridge(&t, NULL);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r", "t.>", "mem", "out", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	BT_WAIT(&t, "r", s.acked == 50 && s.backlog == 0);
	rt = ho_route(&t);
	assert_int_equal(atomic_load(&rt->from_store), 50);
	assert_int_equal(atomic_load(&rt->from_memory), 0);
	ho_assert_sent(&t, 50, 1);
	bt_close(&t);
}

static void
test_handoff_off(void **state)
{
	(void) state;
	const char *kv[] = { "bridge.handoff_bytes", "0", NULL };
	bt          t;
	ho_start(&t, kv);
	ho_publish(&t, 50);
	BT_WAIT(&t, "r", s.acked == 50 && s.backlog == 0);
	weir__route *rt = ho_route(&t);
	assert_int_equal(atomic_load(&rt->from_memory), 0);
	assert_int_equal(atomic_load(&rt->from_store), 50);
	ho_assert_sent(&t, 50, 1);
	bt_close(&t);
}

typedef struct ho_dead {
	uint64_t seq[16];
	size_t   n;
} ho_dead;

static weir_err
ho_dead_seq(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	ho_dead *d = arg;
	if (d->n < 16)
		d->seq[d->n++] = weir_event_seq(dl->ev);
	return WEIR_OK;
}

/* An event taken from memory was never given its seq; its dead letter
 * must still carry the seq the store gave it. Whether the relay takes
 * an event from memory or reads it from the store is a race (the store
 * commits before the handoff is told), so rounds go on until a dead
 * event came from memory; every dead letter must carry its seq. */
static void
test_handoff_dead_letter_seq(void **state)
{
	(void) state;
	bt t;
	ho_start(&t, NULL);
	ho_publish(&t, 1);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	weir__route *rt     = ho_route(&t);
	int          memory = 0;
	uint64_t     rounds = 0;
	while (!memory && rounds < 10) {
		uint64_t before = atomic_load(&rt->from_memory);
		weir__mem_fail_nth(t.mem, 1, 0, "refused for good");
		ho_publish(&t, 1);
		rounds++;
		BT_WAIT(&t, "r", s.dead == rounds && s.backlog == 0);
		memory = atomic_load(&rt->from_memory) > before;
	}
	assert_true(memory);
	ho_dead d = { .n = 0 };
	assert_weir_ok(weir_store_dead_list(t.st, "r", 0, ho_dead_seq, &d));
	assert_int_equal(d.n, rounds);
	for (size_t i = 0; i < d.n; i++) /* seq 1 was acked */
		assert_int_equal(d.seq[i], i + 2);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handoff_put_rules),
		cmocka_unit_test(test_handoff_from_memory),
		cmocka_unit_test(test_handoff_overflow),
		cmocka_unit_test(test_handoff_restart),
		cmocka_unit_test(test_handoff_off),
		cmocka_unit_test(test_handoff_dead_letter_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
