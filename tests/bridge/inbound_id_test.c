/*
 * The inbound ids and transport headers (inbound_id.c) at their edges:
 * which header gives the id (CloudEvents in both bindings, Nats-Msg-Id,
 * a UUID or not), ce_time parsing (RFC 3339: zones, fractions, what is
 * refused), the headers inbound consumes, and which schemes reach the
 * same broker (no echo loops).
 */
#include "inbound_fixture.h"

#define ID1 "0190a5d8-8a3e-7b2c-9f00-000000000001"
#define ID2 "0190a5d8-8a3e-7b2c-9f00-000000000002"
#define ABC_ID "ed83c268-5d93-84ea-9bae-92a53e17644c" /* Nats-Msg-Id abc */

static void
id_of(const weir_header *h, size_t n, char out[37])
{
	uint8_t          id[16];
	weir_inbound_msg m = { .size = sizeof m,
		.headers             = h,
		.header_count        = n,
		.coord               = "kafka:t/0/5" };
	weir__inbound_id(&m, id);
	weir_uuid_format(id, out);
	out[36] = '\0';
}

static void
test_id_sources(void **state)
{
	(void) state;
	char out[37], other[37];
	/* a nameless header is skipped, not a crash */
	weir_header h[3] = { { NULL, "x", 1 }, { "Nats-Msg-Id", ID2, 36 },
		{ "ce_source", "/shop", 5 } };
	id_of(h, 2, out);
	assert_string_equal(out, ID2); /* a UUID Nats-Msg-Id, as it is */
	/* a foreign Nats-Msg-Id: derived, and ce_source (without ce_id)
	 * does not enter it */
	h[1].value = "abc";
	h[1].len   = 3;
	id_of(h, 3, out);
	assert_string_equal(out, ABC_ID);
	id_of(h, 2, other);
	assert_string_equal(other, ABC_ID);
	/* ce_id (either binding, any case) wins over Nats-Msg-Id */
	weir_header c[2] = { { "CE-Id", ID1, 36 },
		{ "Nats-Msg-Id", ID2, 36 } };
	id_of(c, 2, out);
	assert_string_equal(out, ID1);
	/* 36 characters that are no UUID, or another length: derived */
	char notuuid[37];
	memset(notuuid, 'z', 36);
	notuuid[36] = '\0';
	c[0].value  = notuuid;
	id_of(c, 1, out);
	assert_string_not_equal(out, notuuid);
	assert_int_equal(out[14], '8'); /* UUIDv8: derived */
	c[0].len = 35;
	id_of(c, 1, other);
	assert_string_not_equal(out, other);
	/* "ce" followed by something else is not CloudEvents */
	weir_header x[1] = { { "ce.id", ID1, 36 } };
	id_of(x, 1, out);
	assert_string_not_equal(out, ID1);
}

static int64_t
t_of(const char *s)
{
	return weir__inbound_time(s, strlen(s));
}

#define T0 1704164645LL /* 2024-01-02T03:04:05Z */
#define NS 1000000000LL

static void
test_time(void **state)
{
	(void) state;
	assert_int_equal(t_of("2024-01-02T03:04:05Z"), T0 * NS);
	assert_int_equal(t_of("2024-01-02t03:04:05z"), T0 * NS);
	assert_int_equal(t_of("2024-01-02 03:04:05Z"), T0 * NS);
	assert_int_equal(t_of("2024-01-02T03:04:05.5Z"), T0 * NS + NS / 2);
	assert_int_equal(
	    t_of("2024-01-02T03:04:05.123456789Z"), T0 * NS + 123456789);
	assert_int_equal(t_of("2024-01-02T05:04:05+02:00"), T0 * NS);
	assert_int_equal(t_of("2024-01-01T21:34:05-05:30"), T0 * NS);
	assert_int_equal(
	    t_of("2024-01-02T05:04:05.25+02:00"), T0 * NS + NS / 4);
	/* refused: 0 */
	assert_int_equal(weir__inbound_time(NULL, 20), 0);
	assert_int_equal(t_of("2024-01-02T03:04:05"), 0); /* too short */
	assert_int_equal(t_of("2024-01-02T03:04:05.000000000000000000000000"
	                      "00000000000000000000000Z"),
	    0); /* 64 or more */
	assert_int_equal(t_of("two thousand twenty four"), 0);
	assert_int_equal(t_of("2024-1-2T3:4:5Z+00:00:00"), 0); /* widths */
	assert_int_equal(t_of("2024-01-02T03:04:05.5"), 0);    /* no zone */
	assert_int_equal(t_of("2024-01-02T03:04:05X"), 0);
	assert_int_equal(t_of("2024-01-02T03:04:05+0a:00"), 0);
	assert_int_equal(t_of("2024-01-02T03:04:05*02:00"), 0);
	assert_int_equal(t_of("2024-01-02T03:04:05+02:000"), 0);
	assert_int_equal(t_of("1970-01-01T00:00:00Z"), 0); /* the epoch */
	assert_int_equal(t_of("1969-12-31T23:59:59Z"), 0); /* before it */
}

static void
test_dropped_headers(void **state)
{
	(void) state;
	static const char *const dropped[] = { "ce_specversion", "ce-id",
		"CE_TIME", "ce_source", "ce-type", "nats-msg-id", "weir-seq",
		WEIR__HDR_ORIGIN, WEIR__HDR_ECHO, "NATS-MSG-ID", "Weir-Echo" };
	for (size_t i = 0; i < sizeof dropped / sizeof *dropped; i++)
		assert_true(weir__inbound_header_dropped(dropped[i]));
	static const char *const kept[] = { "traceparent", "ce_subject", "ce",
		"cex", "content-type", "Cache-Control", "weir-seqs",
		WEIR__HDR_CE_SOURCE };
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
		assert_false(weir__inbound_header_dropped(kept[i]));
}

/* The reference for header names: libc's strcasecmp (C locale). */
static int
ref_dropped(const char *n)
{
	static const char *const all[] = { "ce_specversion", "ce_id",
		"ce_time", "ce_source", "ce_type", "ce-specversion", "ce-id",
		"ce-time", "ce-source", "ce-type", "Nats-Msg-Id", "weir-seq",
		WEIR__HDR_ORIGIN, WEIR__HDR_ECHO };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		if (strcasecmp(n, all[i]) == 0)
			return 1;
	return 0;
}

/* Every byte value at every position of each dropped name, and each
 * name cut short or run on: the same answers as strcasecmp's. */
static void
test_names_every_byte(void **state)
{
	(void) state;
	static const char *const base[] = { "ce_specversion", "ce-id",
		"CE_Time", "ce_source", "ce-type", "Nats-Msg-Id", "weir-seq",
		WEIR__HDR_ORIGIN, WEIR__HDR_ECHO };
	for (size_t b = 0; b < sizeof base / sizeof *base; b++) {
		size_t len = strlen(base[b]);
		char   n[64];
		for (size_t i = 0; i <= len; i++) {
			for (int c = 1; c < 256; c++) {
				memcpy(n, base[b], len + 1);
				n[i]                        = (char) c;
				n[i == len ? len + 1 : len] = '\0';
				if (weir__inbound_header_dropped(n) !=
				        ref_dropped(n) ||
				    weir__inbound_ce(n, "id") !=
				        (strlen(n) > 3 &&
				            (n[2] == '_' || n[2] == '-') &&
				            strncasecmp(n, "ce", 2) == 0 &&
				            strcasecmp(n + 3, "id") == 0)) {
					print_error("name '%s'\n", n);
					fail();
				}
			}
			memcpy(n, base[b], i);
			n[i] = '\0';
			assert_int_equal(
			    weir__inbound_header_dropped(n), ref_dropped(n));
		}
	}
}

static void
test_same_broker(void **state)
{
	(void) state;
	assert_true(weir__inbound_same_broker("kafka", "kafka", 5));
	assert_true(weir__inbound_same_broker("nats", "natscore", 8));
	assert_true(weir__inbound_same_broker("natscore", "nats", 4));
	assert_true(weir__inbound_same_broker("mem", "mem", 3));
	assert_false(weir__inbound_same_broker("kafka", "kafkb", 5));
	assert_false(weir__inbound_same_broker("kafka", "nats", 4));
	assert_false(weir__inbound_same_broker("mem", "memo", 4));
	assert_false(weir__inbound_same_broker("nat", "nats", 4));
	/* the header's value is not NUL-terminated: its length counts */
	assert_true(weir__inbound_same_broker("kafka", "kafka-more", 5));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_sources),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_dropped_headers),
		cmocka_unit_test(test_names_every_byte),
		cmocka_unit_test(test_same_broker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
