/*
 * Inbound dead letters: a message that cannot become a weir event (a
 * topic that is not one after mapping, too many headers, too big for
 * the store) goes to the dead letters with its broker coordinates and
 * is done; the next message is still delivered.
 */
#include "inbound_fixture.h"

typedef struct dl_seen {
	int  n;
	char text[4][700];
} dl_seen;

static weir_err
dl_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	dl_seen *d = arg;
	if (d->n < 4)
		snprintf(d->text[d->n++], sizeof d->text[0], "%s: %s",
		    weir_err_name(dl->code), dl->message);
	return WEIR_OK;
}

static void
push_headers(void *src, uint64_t token, size_t n)
{
	weir_header *h = calloc(n, sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = (weir_header) { "x-h", "v", 1 };
	weir_inbound_msg m = { .size = sizeof m,
		.origin              = "a.b",
		.headers             = h,
		.header_count        = n,
		.coord               = "kafka:a.b/1/9",
		.token               = token };
	assert_weir_ok(weir__mem_source_push(src, &m));
	free(h);
}

static void
push_big(void *src, uint64_t token)
{
	size_t           len = WEIR_STORE_DEFAULT_MAX_EVENT + 1;
	char            *p   = calloc(1, len);
	weir_inbound_msg m   = { .size = sizeof m,
		  .origin              = "a.b",
		  .payload             = p,
		  .payload_len         = len,
		  .coord               = "kafka:a.b/1/10",
		  .token               = token };
	assert_weir_ok(weir__mem_source_push(src, &m));
	free(p);
}

static void
test_poison_then_next(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "a.>", "{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "a..b", NULL, "kafka:a..b/0/42"); /* bad topic */
	push_headers(src, 2, WEIR_MAX_HEADERS + 1);
	push_big(src, 3);
	it_push(src, 4, "a.b", NULL, "kafka:a.b/0/43"); /* fine */
	it_wait_done(src, 4);
	uint64_t done[4];
	weir__mem_source_done(src, done, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(done[i], (uint64_t) i + 1);
	assert_int_equal(it_log_count(&t, ">"), 1);
	dl_seen d = { 0 };
	assert_weir_ok(weir_store_dead_list(t.st, "in", 0, dl_fn, &d));
	assert_int_equal(d.n, 3);
	assert_non_null(strstr(d.text[0], "WEIR_EBADTOPIC"));
	assert_non_null(strstr(d.text[0], "'a..b'"));
	assert_non_null(strstr(d.text[0], "(at kafka:a..b/0/42)"));
	assert_non_null(strstr(d.text[1], "headers"));
	assert_non_null(strstr(d.text[1], "(at kafka:a.b/1/9)"));
	assert_non_null(strstr(d.text[2], "WEIR_ETOOBIG"));
	assert_non_null(strstr(d.text[2], "(at kafka:a.b/1/10)"));
	/* the store refuses it whole: kept without the payload, said so */
	assert_non_null(strstr(d.text[2], "without its payload"));
	weir_inlet *in = weir__bridge_inlet(t.br, "in");
	assert_int_equal(atomic_load(&in->dead), 3);
	bt_close(&t);
}

/* Redelivering a poison message does not add a second dead letter. */
static void
test_poison_redelivered(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "a.>", "{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "a..b", NULL, "kafka:a..b/0/42");
	it_push(src, 2, "a..b", NULL, "kafka:a..b/0/42");
	it_wait_done(src, 2);
	dl_seen d = { 0 };
	assert_weir_ok(weir_store_dead_list(t.st, "in", 0, dl_fn, &d));
	assert_int_equal(d.n, 1);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poison_then_next),
		cmocka_unit_test(test_poison_redelivered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
