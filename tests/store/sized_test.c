/*
 * Growable public structs of the store (API 1.0, rule 4): the filter,
 * append, replay and attach-stats structs start with their size. A size
 * below the 1.0 size is WEIR_EINVAL, a newer caller's struct that sets
 * fields this weir does not know is WEIR_ENOTSUP, and a newer caller's
 * struct whose extra bytes are zero works. The helpers themselves
 * (core/abi.h) are checked with two versions of a test struct, for the
 * case the store cannot show yet: an older, smaller struct.
 */
#include <string.h>

#include "core/abi.h"
#include "fixture.h"

static weir_err
count_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	(*(int *) arg)++;
	return WEIR_OK;
}

static void
test_filter_sizes(void **state)
{
	fx *f = *state;
	int n = 0;
	fx_append(f->st, "a.b", "1");
	fx_append(f->st, "a.c", "2");
	struct {
		weir_store_filter f;
		uint64_t          later; // a field of a newer weir
	} big = { .f = { .size = sizeof(big), .pattern = "a.b" } };
	weir_store_filter zero = { 0 };
	assert_weir_err(
	    weir_store_read(f->st, &zero, count_fn, &n), WEIR_EINVAL);
	assert_non_null(strstr(weir_store_errmsg(f->st), "size 0"));
	assert_weir_ok(weir_store_read(f->st, &big.f, count_fn, &n));
	assert_int_equal(n, 1);
	big.later = 1;
	assert_weir_err(
	    weir_store_read(f->st, &big.f, count_fn, &n), WEIR_ENOTSUP);
	assert_int_equal(n, 1);
	assert_weir_ok(weir_store_read(f->st, NULL, count_fn, &n));
	assert_int_equal(n, 3);
}

static void
test_append_sizes(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("a.b", "x");
	uint64_t    seq;
	struct {
		weir_store_append_opts o;
		uint64_t               later;
	} big = { .o = { .size = sizeof(big), .stream = "s" } };
	weir_store_append_opts zero = { .stream = "s" };
	assert_weir_err(
	    weir_store_append(f->st, ev, &zero, &seq, NULL), WEIR_EINVAL);
	big.later = 7;
	assert_weir_err(
	    weir_store_append(f->st, ev, &big.o, &seq, NULL), WEIR_ENOTSUP);
	big.later = 0;
	int64_t version;
	assert_weir_ok(weir_store_append(f->st, ev, &big.o, &seq, &version));
	assert_int_equal(seq, 1);
	assert_int_equal(version, 1);
	weir_event_release(ev);
}

static void
test_replay_sizes(void **state)
{
	fx               *f   = *state;
	int               n   = 0;
	weir_store_filter flt = { 0 };
	fx_append(f->st, "a.b", "1");
	weir_store_replay_opts rp = {
		.target = WEIR_STORE_REPLAY_CALL, .fn = count_fn, .arg = &n
	};
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp.size   = sizeof(rp);
	rp.filter = &flt; // the filter's own size is checked too
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	flt.size = sizeof(flt);
	struct {
		weir_store_replay_opts rp;
		uint32_t               later;
	} big       = { .rp = rp };
	big.rp.size = sizeof(big);
	big.later   = 1;
	assert_weir_err(weir_store_replay(f->st, &big.rp, NULL), WEIR_ENOTSUP);
	assert_int_equal(n, 0);
	big.later = 0;
	assert_weir_ok(weir_store_replay(f->st, &big.rp, NULL));
	assert_int_equal(n, 1);
}

static weir_err
dead_size_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	*(size_t *) arg = dl->size;
	return WEIR_OK;
}

static void
test_dead_letter_size(void **state)
{
	fx         *f    = *state;
	weir_event *ev   = fx_event("a.b", "x");
	size_t      size = 0;
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "route", WEIR_EIO, NULL, NULL));
	assert_weir_ok(
	    weir_store_dead_list(f->st, NULL, 0, dead_size_fn, &size));
	assert_int_equal(size, sizeof(weir_store_dead_letter));
	weir_event_release(ev);
}

/* Version 1 and version 2 of a growable struct, as an older and a newer
 * header would declare it. */
typedef struct v1 {
	size_t   size;
	uint64_t a;
} v1;

typedef struct v2 {
	size_t   size;
	uint64_t a;
	uint64_t b;
} v2;

static void
test_helpers_old_and_new_callers(void **state)
{
	(void) state;
	v2 mine;
	// An older caller's smaller struct is read, the rest zeroed.
	v1 old = { .size = sizeof(old), .a = 5 };
	memset(&mine, 0xff, sizeof(mine));
	assert_weir_ok(weir__struct_in(&mine, sizeof(mine), &old, sizeof(v1)));
	assert_int_equal(mine.a, 5);
	assert_int_equal(mine.b, 0);
	// Below the minimum; a newer caller with unknown fields set.
	old.size = sizeof(size_t);
	assert_weir_err(weir__struct_in(&mine, sizeof(mine), &old, sizeof(v1)),
	    WEIR_EINVAL);
	v2 newer = { .size = sizeof(newer), .a = 1, .b = 2 };
	v1 me1;
	assert_weir_err(weir__struct_in(&me1, sizeof(me1), &newer, sizeof(v1)),
	    WEIR_ENOTSUP);
	newer.b = 0;
	assert_weir_ok(weir__struct_in(&me1, sizeof(me1), &newer, sizeof(v1)));
	assert_int_equal(me1.a, 1);
	// Out: an older caller gets a prefix, its size kept.
	v2 full = { .size = sizeof(full), .a = 3, .b = 4 };
	v2 room;
	memset(&room, 0xee, sizeof(room));
	room.size = sizeof(v1);
	assert_weir_ok(weir__struct_out(&room, &full, sizeof(v1)));
	assert_int_equal(room.size, sizeof(v1));
	assert_int_equal(room.a, 3);
	assert_int_equal(room.b, 0xeeeeeeeeeeeeeeeeull); // not the caller's
	room.size = sizeof(v1) - 1;
	assert_weir_err(
	    weir__struct_out(&room, &full, sizeof(v1)), WEIR_EINVAL);
	// A newer caller's unknown fields are not written.
	v1 small = { .size = sizeof(small), .a = 9 };
	memset(&room, 0xee, sizeof(room));
	room.size = sizeof(room);
	assert_weir_ok(weir__struct_out(&room, &small, sizeof(v1)));
	assert_int_equal(room.size, sizeof(room));
	assert_int_equal(room.a, 9);
	assert_int_equal(room.b, 0xeeeeeeeeeeeeeeeeull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_filter_sizes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_append_sizes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sizes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_letter_size, fx_setup, fx_teardown),
		cmocka_unit_test(test_helpers_old_and_new_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
