/*
 * Dead letters: add (with attempts), list, retry to a bus, delete, purge.
 */
#include "fixture.h"

typedef struct seen {
	int      n;
	uint64_t id[16];
	uint32_t attempts[16];
	weir_err code[16];
	char     origin[16][32];
	char     message[16][64];
	char     topic[16][32];
} seen;

static weir_err
on_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	seen *s = arg;
	(void) st;
	assert_true(dl->first_failure <= dl->last_failure);
	s->id[s->n]       = dl->id;
	s->attempts[s->n] = dl->attempts;
	s->code[s->n]     = dl->code;
	snprintf(s->origin[s->n], 32, "%s", dl->origin);
	snprintf(s->message[s->n], 64, "%s", dl->message);
	snprintf(s->topic[s->n], 32, "%s", weir_event_topic(dl->ev));
	s->n++;
	return WEIR_OK;
}

static void
test_add_and_list(void **state)
{
	fx         *f  = *state;
	weir_event *e1 = fx_event("orders.created", "1");
	weir_event *e2 = fx_event("users.signup", "2");
	uint64_t    id1, id1b, id2;
	seen        s = { 0 };
	assert_weir_ok(weir_store_dead_add(f->st, e1, "kafka:orders",
	    WEIR_ETIMEDOUT, "broker timeout", &id1));
	assert_weir_ok(weir_store_dead_add(
	    f->st, e2, "sub:mailer", WEIR_EHANDLER, "smtp down", &id2));
	assert_weir_ok(weir_store_dead_add(f->st, e1, "kafka:orders",
	    WEIR_ETOOBIG, "message too large", &id1b));
	assert_int_equal(id1, id1b);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.attempts[0], 2);
	assert_int_equal(s.code[0], WEIR_ETOOBIG);
	assert_string_equal(s.message[0], "message too large");
	assert_string_equal(s.topic[0], "orders.created");
	assert_string_equal(s.origin[1], "sub:mailer");
	memset(&s, 0, sizeof(s));
	assert_weir_ok(
	    weir_store_dead_list(f->st, "sub:mailer", 0, on_dead, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], id2);
	assert_weir_err(
	    weir_store_dead_add(f->st, e1, "", WEIR_EIO, "x", NULL),
	    WEIR_EBADNAME);
	weir_event_release(e1);
	weir_event_release(e2);
}

typedef struct retry {
	weir_bus *bus;
	int       fail_topic_users;
} retry;

static weir_err
to_bus(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	retry *r = arg;
	(void) st;
	if (r->fail_topic_users &&
	    strcmp(weir_event_topic(dl->ev), "users.signup") == 0) {
		return WEIR_EBACKEND;
	}
	return weir_emit_event(r->bus, dl->ev, NULL);
}

static weir_err
count_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	return WEIR_OK;
}

static void
test_retry_to_bus(void **state)
{
	fx    *f   = *state;
	retry  r   = { .fail_topic_users = 1 };
	int    got = 0;
	seen   s   = { 0 };
	size_t retried;
	assert_weir_ok(weir_bus_create(&r.bus, NULL));
	assert_weir_ok(
	    weir_on(r.bus, ">", count_listener, &got, NULL, 0, NULL));
	weir_event *e1 = fx_event("orders.created", "1");
	weir_event *e2 = fx_event("users.signup", "2");
	assert_weir_ok(
	    weir_store_dead_add(f->st, e1, "r", WEIR_EIO, "x", NULL));
	assert_weir_ok(
	    weir_store_dead_add(f->st, e2, "r", WEIR_EIO, "x", NULL));
	assert_weir_ok(
	    weir_store_dead_retry(f->st, "r", to_bus, &r, &retried));
	assert_int_equal(retried, 1);
	assert_int_equal(got, 1);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 1); // the success is gone, the failure counted
	assert_string_equal(s.topic[0], "users.signup");
	assert_int_equal(s.attempts[0], 2);
	assert_int_equal(s.code[0], WEIR_EBACKEND);
	r.fail_topic_users = 0;
	assert_weir_ok(
	    weir_store_dead_retry(f->st, NULL, to_bus, &r, &retried));
	assert_int_equal(retried, 1);
	assert_int_equal(got, 2);
	memset(&s, 0, sizeof(s));
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 0);
	weir_event_release(e1);
	weir_event_release(e2);
	weir_bus_destroy(r.bus);
}

static void
test_delete_and_purge(void **state)
{
	fx      *f = *state;
	uint64_t id, purged;
	seen     s = { 0 };
	for (int i = 0; i < 6; i++) {
		weir_event *ev = fx_event("x.y", "p");
		assert_weir_ok(weir_store_dead_add(
		    f->st, ev, i % 2 ? "a" : "b", WEIR_EIO, NULL, &id));
		weir_event_release(ev);
	}
	assert_weir_ok(weir_store_dead_delete(f->st, id));
	assert_weir_err(weir_store_dead_delete(f->st, id), WEIR_ENOENT);
	assert_weir_ok(weir_store_dead_purge(f->st, "a", &purged));
	assert_int_equal(purged, 2);
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, &s));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.message[0], weir_strerror(WEIR_EIO));
	assert_weir_ok(weir_store_dead_purge(f->st, NULL, &purged));
	assert_int_equal(purged, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_add_and_list, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_to_bus, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_delete_and_purge, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
