/*
 * The JetStream source's reading of an ack subject (src/bridge/jsack.h),
 * which replaces cnats's natsMsg_GetMetaData on its hot path: both
 * forms nats-server sends (ADR-15) give the stream, stream sequence and
 * time; every other subject is not read (the source then asks cnats).
 * cnats reads only messages bound to a subscription, so the agreement
 * with it on a real server's subjects is checked by nats_source_test
 * (coordinates and time of each message) and nats_in_test (a dead
 * letter's coordinates).
 */
#include "weir_test.h"

#include "bridge/jsack.h"

/* @p reply reads as @p stream, @p seq, @p ts. */
static void
reads_as(const char *reply, const char *stream, uint64_t seq, int64_t ts)
{
	weir__jsack a;
	assert_int_equal(weir__jsack_parse(reply, &a), 1);
	assert_int_equal(a.stream_len, strlen(stream));
	assert_memory_equal(a.stream, stream, a.stream_len);
	assert_int_equal(a.seq, seq);
	assert_int_equal(a.ts, ts);
}

static void
test_both_forms(void **state)
{
	(void) state;
	reads_as("$JS.ACK.ORDERS.weir-in.1.42.40.1704164645000000001.7",
	    "ORDERS", 42, 1704164645000000001LL);
	reads_as("$JS.ACK.hub.ACCHASH.ORDERS.weir-in.3.9.8."
	         "1704164645123456789.0.r4nd0m",
	    "ORDERS", 9, 1704164645123456789LL);
	reads_as("$JS.ACK._.ACCHASH.S_2-x.c.1.18446744073709551.1.1.0.z",
	    "S_2-x", 18446744073709551ULL, 1);
}

/* Not one of the two forms: not read, the result left as it was. */
static void
test_others_left_to_cnats(void **state)
{
	(void) state;
	static const char *const bad[] = {
		NULL,
		"",
		"_INBOX.abc",
		"$JS.ACK",
		"$JS.ACK.S.c.1.2.3.4",                   /* 8 tokens */
		"$JS.ACK.S.c.1.2.3.4.5.6",               /* 10 */
		"$JS.ACK.d.h.S.c.1.2.3.4.5",             /* 11 */
		"$JS.ACK.d.h.S.c.1.2.3.4.5.r.more",      /* 13 */
		"$JS.ACK.d.h.S.c.1.2.3.4.5.r.more.most", /* 14: cut at 13 */
		"$JS.ACK.S.c.1.x2.3.4.5", /* a sequence not a number */
		"$JS.ACK.S.c.1.2.3.-4.5", /* a negative time */
		"$JS.ACK.S.c.1.2.3.4.",   /* pending empty */
		"$JS.ACK..c.1.2.3.4.5",   /* no stream */
		"$JS.ACK.S..1.2.3.4.5",   /* no consumer */
		"$JS.ACK.S.c.1.12345678901234567890.3.4.5", /* 20 digits */
		"$JS.ACK.S.c.1.2.3.9999999999999999999.5",  /* past int64 */
		"$JS.ack.S.c.1.2.3.4.5",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		weir__jsack a = { .stream = "kept", .seq = 77 };
		assert_int_equal(weir__jsack_parse(bad[i], &a), 0);
		assert_string_equal(a.stream, "kept");
		assert_int_equal(a.seq, 77);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_forms),
		cmocka_unit_test(test_others_left_to_cnats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
