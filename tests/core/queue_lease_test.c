/*
 * The producers' lease of a subscription's ring (src/core/queue.c): the
 * first thread to push holds it and pushes without the claim's CAS; a
 * second thread's push revokes it for good, and from then on every push
 * claims with the CAS. What must hold across the revocation: nothing
 * lost, nothing twice, each producer's events in its order, whenever
 * the second producer comes (the holder may be mid-push).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#include "core/event.h"
#include "core/queue.h"

/* The lease's states besides a holder's token (queue.c). */
#define LEASE_FREE 0u
#define LEASE_SHARED 1u

typedef struct item {
	int producer;
	int seq;
} item;

static weir_event *
item_event(int producer, int seq)
{
	item        it = { producer, seq };
	weir_event *ev = weir__event_make_plain("t.lease", 7, &it, sizeof(it));
	assert_non_null(ev);
	return ev;
}

static item
item_of(const weir_event *ev)
{
	item it;
	memcpy(&it, ev->payload, sizeof(it));
	return it;
}

/* Pushes until the ring takes it (the consumer makes room). */
static void
push_item(weir__queue *q, int producer, int seq)
{
	weir_event *ev = item_event(producer, seq);
	while (!weir__queue_try_push(q, ev)) {
		sched_yield();
	}
}

typedef struct feeder {
	weir__queue *q;
	int          producer;
	int          n;
} feeder;

/* Pushes events @p from .. from + n - 1 of @p producer as runs
 * (weir__queue_push_run, one claim for what fits). */
static void
push_run(weir__queue *q, int producer, int from, int n)
{
	weir_event *evs[4];
	for (int i = 0; i < n; i++) {
		evs[i] = item_event(producer, from + i);
	}
	for (size_t done = 0; done < (size_t) n;) {
		size_t k =
		    weir__queue_push_run(q, evs + done, (size_t) n - done);
		if (k == 0) {
			sched_yield();
		}
		done += k;
	}
}

/* Producer 2 pushes runs of 4, the others single events. */
static void *
feed(void *arg)
{
	feeder *f = arg;
	for (int i = 0; i < f->n;) {
		if (f->producer == 2 && f->n - i >= 4) {
			push_run(f->q, f->producer, i, 4);
			i += 4;
		} else {
			push_item(f->q, f->producer, i++);
		}
	}
	return NULL;
}

static void
test_first_pusher_holds_second_revokes(void **state)
{
	(void) state;
	weir__queue q;
	assert_int_equal(
	    weir__queue_init(&q, 8, WEIR_POLICY_REJECT, 0), WEIR_OK);
	assert_int_equal(atomic_load(&q.solo), LEASE_FREE);
	push_item(&q, 0, 0);
	uintptr_t holder = atomic_load(&q.solo);
	assert_true(holder > 2); /* a thread's token, not a state */
	push_item(&q, 0, 1);
	assert_int_equal(atomic_load(&q.solo), holder);

	feeder    f = { &q, 1, 1 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&q.solo), LEASE_SHARED);
	push_item(&q, 0, 2); /* the old holder now claims with the CAS */
	assert_int_equal(atomic_load(&q.solo), LEASE_SHARED);

	int want[][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 0, 2 } };
	for (size_t i = 0; i < 4; i++) {
		weir_event *ev = weir__queue_pop(&q);
		assert_non_null(ev);
		item it = item_of(ev);
		assert_int_equal(it.producer, want[i][0]);
		assert_int_equal(it.seq, want[i][1]);
		weir_event_release(ev);
	}
	assert_null(weir__queue_pop(&q));
	weir__queue_fini(&q);
}

#define ROUNDS 40
#define PRODUCERS 3
#define PER 3000

typedef struct consumer {
	weir__queue *q;
	int          want; /* events in all */
	int          next[PRODUCERS];
	int          bad;
} consumer;

static void *
consume(void *arg)
{
	consumer *c = arg;
	for (int got = 0; got < c->want;) {
		weir_event *ev = weir__queue_pop(c->q);
		if (ev == NULL) {
			sched_yield();
			continue;
		}
		item it = item_of(ev);
		if (it.producer < 0 || it.producer >= PRODUCERS ||
		    it.seq != c->next[it.producer]) {
			c->bad++;
		} else {
			c->next[it.producer]++;
		}
		weir_event_release(ev);
		got++;
	}
	return NULL;
}

/* The holder streams while the others start at once, each round on a
 * fresh ring small enough to fill: the revocation meets the holder at
 * every point of its push, and full rings on both sides of it. */
static void
test_revoked_mid_stream_keeps_every_order(void **state)
{
	(void) state;
	for (int r = 0; r < ROUNDS; r++) {
		weir__queue q;
		assert_int_equal(
		    weir__queue_init(&q, 16, WEIR_POLICY_REJECT, 0), WEIR_OK);
		consumer  c = { .q = &q, .want = PRODUCERS * PER };
		pthread_t ct, pt[PRODUCERS];
		feeder    f[PRODUCERS];
		assert_int_equal(pthread_create(&ct, NULL, consume, &c), 0);
		push_item(&q, 0, 0); /* this thread holds the lease */
		for (int p = 1; p < PRODUCERS; p++) {
			f[p] = (feeder) { &q, p, PER };
			assert_int_equal(
			    pthread_create(&pt[p], NULL, feed, &f[p]), 0);
		}
		for (int i = 1; i < PER; i++) {
			push_item(&q, 0, i);
		}
		for (int p = 1; p < PRODUCERS; p++) {
			assert_int_equal(pthread_join(pt[p], NULL), 0);
		}
		assert_int_equal(pthread_join(ct, NULL), 0);
		assert_int_equal(c.bad, 0);
		for (int p = 0; p < PRODUCERS; p++) {
			assert_int_equal(c.next[p], PER);
		}
		assert_int_equal(atomic_load(&q.solo), LEASE_SHARED);
		assert_int_equal(weir__queue_depth(&q), 0);
		weir__queue_fini(&q);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_pusher_holds_second_revokes),
		cmocka_unit_test(test_revoked_mid_stream_keeps_every_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
