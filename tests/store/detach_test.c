/*
 * Detaching while the store takes nothing: weir_store_detach() waits up
 * to five seconds for the attachment's queue to drain into the store,
 * then gives up; what is still queued is released with the
 * subscription, not logged. This test takes those five seconds (a
 * concept of its own, so that attach_test stays quick).
 */
#include <pthread.h>
#include <stdio.h>

#include "fixture.h"

typedef struct opener {
	fx_gate  *g;
	weir_bus *bus;
	int       lost;
} opener;

// Is the attachment's subscription still listed in the bus's stats?
static int
listed(weir_bus *bus)
{
	char *json = weir_bus_stats_json(bus);
	assert_non_null(json);
	int in = strstr(json, "\"giveup.>\"") != NULL;
	weir_free(json);
	return in;
}

// Opens the gate once detach has given up draining and unsubscribed:
// until then the writer must take nothing.
static void *
opener_main(void *arg)
{
	opener *o   = arg;
	int64_t end = wt_now_ms() + 5000 + WT_WAIT_MS;
	while (listed(o->bus) && !(o->lost = wt_now_ms() > end)) {
		wt_sleep_ms(10);
	}
	fx_gate_open(o->g);
	return NULL;
}

static void
test_detach_gives_up(void **state)
{
	fx                       *f = *state;
	weir_bus                 *bus;
	weir_store_attachment    *a;
	weir_store_attach_config *cfg;
	weir_store_config        *scfg;
	fx_gate                   g;
	pthread_t                 oth;
	// A store queue of one event, so that the handler waits for room.
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&scfg));
	assert_weir_ok(weir_store_config_set_batch(scfg, 1, 1));
	fx_open_cfg(f, scfg);
	weir_store_config_destroy(scfg);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_store_attach_config_create(&cfg));
	assert_weir_ok(weir_store_attach_config_set_capacity(cfg, 16));
	assert_weir_ok(
	    weir_store_attach_config_set_policy(cfg, WEIR_POLICY_BLOCK, 0));
	assert_weir_ok(weir_store_attach(&a, f->st, bus, "giveup.>", cfg));
	weir_store_attach_config_destroy(cfg);
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 5; i++) {
		assert_weir_ok(weir_publish(bus, "giveup.x", "d", 1, 0, NULL));
	}
	// One in the store's queue, one in the handler, three waiting.
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	wt_wait_until(weir_store_attach_stats_get(a, &s) == WEIR_OK &&
	    s.subscr.queued == 3);
	opener o = { .g = &g, .bus = bus };
	assert_int_equal(pthread_create(&oth, NULL, opener_main, &o), 0);
	int64_t t0 = wt_now_ms();
	weir_store_detach(a);
	int64_t took = wt_now_ms() - t0;
	assert_int_equal(pthread_join(oth, NULL), 0);
	assert_int_equal(o.lost, 0);
	print_message("detach took %lld ms\n", (long long) took);
	assert_true(took >= 5000);
	// The two the store and the handler held are logged; the three
	// still queued when detach gave up are not.
	assert_weir_ok(weir_store_flush(f->st));
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 2);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_detach_gives_up, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
