/*
 * Out of memory in the storm defences and async handlers (issue 3): a
 * subscribe with a rate limit, debounce, retry or max in flight either
 * succeeds or fails with WEIR_ENOMEM with nothing registered, and a
 * dispatch that runs out of memory (retry timers, dead letters,
 * debounce entries, deferred deliveries) loses no accounting and leaks
 * nothing (LeakSanitizer checks the latter in the ASan stage).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/debounce.h"
#include "core/evpool.h"
#include "fault_alloc.h"
#include "weir_test.h"

typedef enum flow_kind {
	FLOW_RATE,
	FLOW_DEBOUNCE,
	FLOW_RETRY,
	FLOW_IN_FLIGHT,
	FLOW_KINDS
} flow_kind;

// Fails every call: drives retries and then the dead-letter path.
static weir_err
fail_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	return WEIR_EHANDLER;
}

static weir_subscr_config *
flow_config(flow_kind kind)
{
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 16));
	switch (kind) {
	case FLOW_RATE:
		assert_weir_ok(weir_subscr_config_set_rate(sc, 1e6, 100));
		break;
	case FLOW_DEBOUNCE:
		assert_weir_ok(weir_subscr_config_set_debounce(sc, 1));
		break;
	case FLOW_RETRY:
		assert_weir_ok(weir_subscr_config_set_retry(sc, 2, 1, 1));
		break;
	default:
		assert_weir_ok(weir_subscr_config_set_max_in_flight(sc, 2));
		break;
	}
	return sc;
}

// Subscribing fails cleanly at every allocation, then succeeds.
static void
test_subscribe_enomem(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	for (flow_kind k = 0; k < FLOW_KINDS; k++) {
		weir_subscr_config *sc       = flow_config(k);
		int                 failures = 0;
		for (long n = 1;; n++) {
			weir_bus    *bus;
			weir_subscr *sub   = NULL;
			int          calls = 0;
			fail_at            = 0;
			assert_weir_ok(weir_bus_create(&bus, NULL));
			freed_args = 0;
			fi_arm(n);
			weir_err rv = weir_subscribe(&sub, bus, "f.>",
			    wt_count_int_handler, &calls, arg_free_fn, sc);
			fail_at     = 0;
			if (rv != WEIR_OK) {
				failures++;
				assert_weir_err(rv, WEIR_ENOMEM);
				assert_int_equal(freed_args, 0);
				// Nobody registered: a publish reaches no one.
				assert_weir_ok(
				    weir_publish(bus, "f.x", "x", 1, 0, NULL));
				weir_bus_destroy(bus);
				continue;
			}
			assert_weir_ok(
			    weir_publish(bus, "f.x", "x", 1, 0, NULL));
			for (int i = 0; i < 2000 && calls == 0; i++) {
				assert_weir_ok(
				    weir_bus_run(bus, WEIR_RUN_NOWAIT));
				struct timespec ms = { 0, 1000000 };
				nanosleep(&ms, NULL);
			}
			if (calls != 1) {
				print_error("kind %d n %ld: %d calls\n",
				    (int) k, n, calls);
			}
			assert_int_equal(calls, 1);
			weir_unsubscribe(sub);
			weir_bus_destroy(bus);
			assert_int_equal(freed_args, 1);
			break;
		}
		assert_true(failures >= 1);
		weir_subscr_config_destroy(sc);
	}
	weir_set_allocator(NULL);
}

// 1 when every accepted event is accounted for, by the kind's rules.
static int
settled(flow_kind k, weir_subscr *sub, int accepted, int calls)
{
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	uint64_t gone = st.dropped + st.rejected + st.timed_out + st.coalesced;
	if (st.queued != 0 || st.in_flight != 0) {
		return 0;
	}
	switch (k) {
	case FLOW_DEBOUNCE:
		return st.delivered + st.debounced + gone ==
		    (uint64_t) accepted;
	case FLOW_RETRY:
		// Two attempts each, unless a retry could not be armed.
		return calls >= accepted && calls <= 2 * accepted &&
		    st.delivered == (uint64_t) calls;
	default:
		return st.delivered + gone == (uint64_t) accepted;
	}
}

// Runs the loop (NOWAIT, with short sleeps for timers) until settled,
// for at most about two seconds.
static int
drain(flow_kind k, weir_bus *bus, weir_subscr *sub, int accepted,
    const int *calls)
{
	for (int i = 0; i < 2000; i++) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		if (settled(k, sub, accepted, *calls)) {
			return 1;
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	return 0;
}

static void
report(flow_kind k, long n, weir_subscr *sub, int accepted, int calls)
{
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	weir_subscr_stats_get(sub, &st);
	print_error("kind %d n %ld: accepted %d calls %d published %llu "
	            "delivered %llu queued %llu debounced %llu dead %llu "
	            "in flight %llu\n",
	    (int) k, n, accepted, calls, (unsigned long long) st.published,
	    (unsigned long long) st.delivered, (unsigned long long) st.queued,
	    (unsigned long long) st.debounced, (unsigned long long) st.dead,
	    (unsigned long long) st.in_flight);
}

// Publishing and dispatching under injection, for every allocation of
// the run: publishes either queue their event or fail with WEIR_ENOMEM,
// and the counters still add up.
static void
test_dispatch_enomem(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	for (flow_kind k = 0; k < FLOW_KINDS; k++) {
		weir_subscr_config *sc = flow_config(k);
		for (long n = 1; n < 60; n++) {
			weir_bus    *bus;
			weir_subscr *sub;
			int          calls = 0;
			fail_at            = 0;
			assert_weir_ok(weir_bus_create(&bus, NULL));
			assert_weir_ok(weir_subscribe(&sub, bus, "f.>",
			    k == FLOW_RETRY ? fail_fn : wt_count_int_handler,
			    &calls, NULL, sc));
			fi_arm(n);
			int accepted = 0;
			for (int i = 0; i < 4; i++) {
				char     key[2] = { (char) ('a' + i), 0 };
				weir_err rv =
				    weir_publish(bus, "f.x", key, 1, 0, NULL);
				if (rv == WEIR_OK) {
					accepted++;
				} else {
					assert_weir_err(rv, WEIR_ENOMEM);
				}
			}
			// A few passes still under injection, then settle.
			for (int i = 0; i < 5; i++) {
				assert_weir_ok(
				    weir_bus_run(bus, WEIR_RUN_NOWAIT));
			}
			fail_at = 0;
			if (!drain(k, bus, sub, accepted, &calls)) {
				report(k, n, sub, accepted, calls);
				fail();
			}
			weir_subscr_stats st =
			    WEIR_STRUCT_INIT(weir_subscr_stats);
			assert_weir_ok(weir_subscr_stats_get(sub, &st));
			assert_int_equal(st.published, (uint64_t) accepted);
			weir_unsubscribe(sub);
			weir_bus_destroy(bus);
		}
		weir_subscr_config_destroy(sc);
	}
	weir_set_allocator(NULL);
}

// The debounce table's growth failing (the allocation after the 65th
// key's entry): the put still succeeds, the table keeps its 64 buckets
// with longer chains and grows at a later put; every key is still found
// (a put of it replaces) and taken once, oldest first.
#define DB_KEYS 200

static void
test_debounce_table_cannot_grow(void **state)
{
	(void) state;
	weir__debounce *db;
	weir_event     *ev[DB_KEYS], *again[DB_KEYS];
	char            key[DB_KEYS][16];
	for (int i = 0; i < DB_KEYS; i++) {
		snprintf(key[i], sizeof(key[i]), "k%d", i);
		weir_event_init init = { .size = sizeof(init),
			.topic                 = "db.k",
			.key                   = key[i],
			.key_len               = strlen(key[i]) };
		assert_weir_ok(weir_event_new(&ev[i], &init));
		assert_weir_ok(weir_event_new(&again[i], &init));
	}
	weir_set_allocator(&fi_alloc);
	assert_weir_ok(weir__debounce_create(&db, 1000));

	for (int i = 0; i < DB_KEYS; i++) {
		if (i == 64) {
			fi_arm(2); // the entry, then the table's growth
		}
		assert_int_equal(weir__debounce_put(db, ev[i], 10 + i), 0);
		if (i == 64) {
			assert_int_equal(alloc_calls, 2); // it was tried
			fail_at = 0;
		}
	}
	for (int i = 0; i < DB_KEYS; i++) {
		assert_int_equal(weir__debounce_put(db, again[i], 500 + i), 1);
	}
	for (int i = 0; i < DB_KEYS; i++) {
		weir_event *e = weir__debounce_take(db, 1000000);
		assert_ptr_equal(e, again[i]);
		weir_event_release(e);
	}
	assert_null(weir__debounce_take(db, 1000000));
	weir__debounce_destroy(db);
	weir_set_allocator(NULL);
}

// A handler's last failure with the dispatch's allocations failing from
// the n-th on, n = 1, 2, ...: the event is counted dead every time; its
// dead letter
// reaches $weir.dead unless the letter itself could not be made (then
// it is lost, counted all the same), and nothing leaks.
static void
test_dead_letter_cannot_be_made(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	weir_bus           *bus;
	weir_subscr        *sub, *dead;
	weir_subscr_config *sc;
	int                 calls = 0, letters = 0, lost = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 1, 1, 1));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "f.x", fail_fn, &calls, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_subscribe(&dead, bus, WEIR_TOPIC_DEAD,
	    wt_count_int_handler, &letters, NULL, NULL));
	long n;
	for (n = 1; n < 1000; n++) {
		int before = letters;
		assert_weir_ok(weir_publish(bus, "f.x", "x", 1, 0, NULL));
		weir__evpool_flush(); // the letter's block from the allocator
		fi_arm_from(n);
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		long made = alloc_calls;
		fail_from = 0;
		for (int i = 0; i < 3; i++) {
			assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		}
		weir_subscr_stats st = wt_subscr_stats(sub);
		assert_int_equal(st.dead, (uint64_t) n);
		assert_int_equal(calls, (int) n);
		assert_true(letters - before <= 1);
		lost += letters == before;
		if (made < n) {
			assert_int_equal(letters - before, 1);
			break;
		}
	}
	assert_true(n < 1000);
	assert_true(lost >= 1);
	weir_unsubscribe(dead);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
	weir_set_allocator(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscribe_enomem),
		cmocka_unit_test(test_dispatch_enomem),
		cmocka_unit_test(test_debounce_table_cannot_grow),
		cmocka_unit_test(test_dead_letter_cannot_be_made),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
