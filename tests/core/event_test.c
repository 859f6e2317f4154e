// Events: one immutable, reference-counted allocation; UUIDv7 ids.
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#include "core/evpool.h"

static void
test_new_copies_everything(void **state)
{
	(void) state;
	char    topic[]     = "orders.eu.created";
	char    key[]       = "customer-42";
	char    payload[]   = "{\"total\":12}";
	char    hname[2][8] = { "h1", "h2" };
	char    hval[2][8]  = { "v1", "value2" };
	uint8_t id[16];
	for (int i = 0; i < 16; i++) {
		id[i] = (uint8_t) (i * 17);
	}
	weir_header     hdr[2] = { { hname[0], hval[0], 2 },
		    { hname[1], hval[1], 6 } };
	weir_event_init init   = { .size = sizeof(weir_event_init),
		  .topic                 = topic,
		  .key                   = key,
		  .key_len               = strlen(key),
		  .payload               = payload,
		  .payload_len           = strlen(payload),
		  .headers               = hdr,
		  .header_count          = 2,
		  .id                    = id,
		  .ts                    = 1234567890123,
		  .seq                   = 77 };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));

	// Scribble over every source buffer: the event must not change.
	memset(topic, 'X', sizeof(topic) - 1);
	memset(key, 'X', sizeof(key) - 1);
	memset(payload, 'X', sizeof(payload) - 1);
	memset(hname, 'X', sizeof(hname));
	memset(hval, 'X', sizeof(hval));
	memset(id, 0, sizeof(id));
	hdr[0].len = 99;

	assert_string_equal(weir_event_topic(ev), "orders.eu.created");
	size_t      len;
	const void *k = weir_event_key(ev, &len);
	assert_int_equal(len, 11);
	assert_memory_equal(k, "customer-42", 11);
	const void *p = weir_event_payload(ev, &len);
	assert_int_equal(len, 12);
	assert_memory_equal(p, "{\"total\":12}", 12);
	assert_int_equal(weir_event_ts(ev), 1234567890123);
	assert_int_equal(weir_event_seq(ev), 77);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(weir_event_id(ev)[i], (uint8_t) (i * 17));
	}
	assert_int_equal(weir_event_header_count(ev), 2);
	const char *name;
	const void *val;
	assert_weir_ok(weir_event_header(ev, 1, &name, &val, &len));
	assert_string_equal(name, "h2");
	assert_int_equal(len, 6);
	assert_memory_equal(val, "value2", 6);
	assert_weir_ok(weir_event_header(ev, 0, &name, &val, &len));
	assert_string_equal(name, "h1");
	assert_int_equal(len, 2);
	assert_memory_equal(val, "v1", 2);
	assert_null(weir_event_cause(ev));
	weir_event_release(ev);
}

static void
test_minimal_event(void **state)
{
	(void) state;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "a" };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	size_t len = 99;
	assert_null(weir_event_key(ev, &len));
	assert_int_equal(len, 0);
	len = 99;
	weir_event_payload(ev, &len);
	assert_int_equal(len, 0);
	assert_int_equal(weir_event_header_count(ev), 0);
	assert_weir_err(
	    weir_event_header(ev, 0, NULL, NULL, NULL), WEIR_ENOENT);
	assert_null(weir_event_header_get(ev, "x", NULL));
	assert_int_equal(weir_event_seq(ev), 0);
	// ts 0 means now.
	assert_true(weir_event_ts(ev) > (int64_t) 1600000000 * 1000000000);
	weir_event_release(ev);
}

static void
test_hold_release(void **state)
{
	(void) state;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "a.b",
		.payload               = "xyz",
		.payload_len           = 3 };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	// A heap event is shared, not copied, by hold().
	const weir_event *h1 = weir_event_hold(ev);
	const weir_event *h2 = weir_event_hold(h1);
	assert_ptr_equal(h1, ev);
	assert_ptr_equal(h2, ev);
	weir_event_release(ev);
	weir_event_release(h1);
	// Still one reference: ASan would flag a read after free here.
	assert_string_equal(weir_event_topic(h2), "a.b");
	size_t len;
	assert_memory_equal(weir_event_payload(h2, &len), "xyz", 3);
	weir_event_release(h2);
	weir_event_release(NULL);
	assert_null(weir_event_hold(NULL));
}

static void
test_headers_get(void **state)
{
	(void) state;
	weir_header     hdr[3] = { { "a", "1", 1 }, { "b", "", 0 },
		    { "a", "22", 2 } };
	weir_event_init init   = { .size = sizeof(weir_event_init),
		  .topic                 = "t",
		  .headers               = hdr,
		  .header_count          = 3 };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	size_t      len = 99;
	const void *v   = weir_event_header_get(ev, "a", &len);
	assert_non_null(v);
	assert_int_equal(len, 1); // the first one named "a"
	assert_memory_equal(v, "1", 1);
	v = weir_event_header_get(ev, "b", &len);
	assert_non_null(v); // present, empty value
	assert_int_equal(len, 0);
	assert_null(weir_event_header_get(ev, "c", &len));
	assert_null(weir_event_header_get(ev, NULL, &len));
	const char *name;
	assert_weir_ok(weir_event_header(ev, 2, &name, &v, &len));
	assert_string_equal(name, "a");
	assert_int_equal(len, 2);
	assert_weir_err(
	    weir_event_header(ev, 3, &name, &v, &len), WEIR_ENOENT);
	weir_event_release(ev);
}

static void
test_bad_init(void **state)
{
	(void) state;
	weir_event *ev = (weir_event *) 1;
	assert_weir_err(weir_event_new(&ev, NULL), WEIR_EINVAL);
	assert_null(ev);
	weir_event_init init = { 0 };
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL); // size 0
	assert_null(ev);
	init.size = sizeof(init);
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL); // no topic
	assert_null(ev);
	init.topic = "a.*";
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EBADTOPIC);
	init.topic = "a..b";
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EBADTOPIC);
	init.topic = "";
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EBADTOPIC);
	init.topic = "ok";
	assert_weir_err(weir_event_new(NULL, &init), WEIR_EINVAL);

	static weir_header hdr[WEIR_MAX_HEADERS + 1];
	for (size_t i = 0; i <= WEIR_MAX_HEADERS; i++) {
		hdr[i] = (weir_header) { "h", "v", 1 };
	}
	init.headers      = hdr;
	init.header_count = WEIR_MAX_HEADERS + 1;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	assert_null(ev);
	init.header_count = WEIR_MAX_HEADERS; // the maximum is fine
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_int_equal(weir_event_header_count(ev), WEIR_MAX_HEADERS);
	weir_event_release(ev);

	init.header_count = 1;
	init.headers      = NULL;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	weir_header noname = { NULL, "v", 1 };
	init.headers       = &noname;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	init.header_count = 0;
	init.payload_len  = 4; // a length without a pointer
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	init.payload_len = 0;
	init.key_len     = 4;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	assert_null(ev);
}

static void
test_uuid_v7_bits(void **state)
{
	(void) state;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "a" };
	for (int i = 0; i < 1000; i++) {
		weir_event *ev;
		assert_weir_ok(weir_event_new(&ev, &init));
		const uint8_t *id = weir_event_id(ev);
		assert_int_equal(id[6] >> 4, 7);      // version 7
		assert_int_equal(id[8] & 0xc0, 0x80); // variant 10
		// The first 48 bits are the event's unix milliseconds.
		uint64_t ms = 0;
		for (int b = 0; b < 6; b++) {
			ms = ms << 8 | id[b];
		}
		int64_t ts_ms = weir_event_ts(ev) / 1000000;
		assert_true(
		    (int64_t) ms >= ts_ms && (int64_t) ms <= ts_ms + 1);
		weir_event_release(ev);
	}
	uint8_t id[16];
	weir_uuid_v7(id);
	assert_int_equal(id[6] >> 4, 7);
	assert_int_equal(id[8] & 0xc0, 0x80);
}

static void
test_uuid_monotonic(void **state)
{
	(void) state;
	// Ids from one thread strictly increase (byte order), even when
	// many fall in the same millisecond.
	uint8_t prev[16], id[16];
	weir_uuid_v7(prev);
	for (int i = 0; i < 100000; i++) {
		weir_uuid_v7(id);
		if (memcmp(prev, id, 16) >= 0) {
			char a[37], b[37];
			weir_uuid_format(prev, a);
			weir_uuid_format(id, b);
			print_error("id %d: %s then %s\n", i, a, b);
			fail();
		}
		assert_int_equal(id[6] >> 4, 7);
		assert_int_equal(id[8] & 0xc0, 0x80);
		memcpy(prev, id, 16);
	}
	// Events made in a row, too.
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "a" };
	weir_event     *a, *b;
	assert_weir_ok(weir_event_new(&a, &init));
	assert_weir_ok(weir_event_new(&b, &init));
	assert_true(memcmp(weir_event_id(a), weir_event_id(b), 16) < 0);
	weir_event_release(a);
	weir_event_release(b);
}

static void
test_uuid_format_parse(void **state)
{
	(void) state;
	uint8_t id[16], back[16];
	char    text[37];
	for (int i = 0; i < 100; i++) {
		weir_uuid_v7(id);
		memset(text, 'Z', sizeof(text));
		weir_uuid_format(id, text);
		assert_int_equal(strlen(text), 36);
		assert_int_equal(text[8], '-');
		assert_int_equal(text[13], '-');
		assert_int_equal(text[18], '-');
		assert_int_equal(text[23], '-');
		assert_int_equal(text[14], '7'); // the version digit
		assert_weir_ok(weir_uuid_parse(text, back));
		assert_memory_equal(id, back, 16);
	}
	const uint8_t known[16] = { 0x01, 0x8f, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e,
		0x8f, 0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07 };
	weir_uuid_format(known, text);
	assert_string_equal(text, "018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f607");
	assert_weir_ok(
	    weir_uuid_parse("018F3A4B-5C6D-7E8F-90A1-B2C3D4E5F607", back));
	assert_memory_equal(known, back, 16);
}

static void
test_uuid_parse_bad(void **state)
{
	(void) state;
	uint8_t     id[16];
	const char *bad[] = {
		"",
		"018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f60",   // short
		"018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f6077", // long
		"018f3a4b5c6d-7e8f-90a1-b2c3d4e5f6077",  // dash missing
		"018f3a4b-5c6d-7e8f-90a1_b2c3d4e5f607",  // wrong separator
		"018f3a4g-5c6d-7e8f-90a1-b2c3d4e5f607",  // not hex
		"018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f6 7",  // space
		"-018f3a4b5c6d-7e8f-90a1-b2c3d4e5f607",  // dash moved
		"018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f60\xff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (weir_uuid_parse(bad[i], id) != WEIR_EINVAL) {
			print_error("uuid '%s' accepted\n", bad[i]);
			fail();
		}
	}
	assert_weir_err(weir_uuid_parse(NULL, id), WEIR_EINVAL);
	assert_weir_err(
	    weir_uuid_parse("018f3a4b-5c6d-7e8f-90a1-b2c3d4e5f607", NULL),
	    WEIR_EINVAL);
}

/* An allocator hook whose blocks are 8 bytes off a 16-byte boundary,
 * with their size before them and a canary right after the bytes asked
 * for: a write past an event's block fails the test when the block is
 * freed. */
static const char skew_canary[8] = "canary!";
static atomic_int skew_overruns;

static long skew_calls, skew_fail_at; /* fail_at 0: never */

static void *
skew_malloc(size_t n)
{
	if (skew_fail_at > 0 && ++skew_calls == skew_fail_at) {
		return NULL;
	}
	char *p = malloc(n + 16);
	if (p == NULL) {
		return NULL;
	}
	memcpy(p, &n, sizeof(n));
	memcpy(p + 8 + n, skew_canary, 8);
	return p + 8;
}

static void
skew_free(void *p)
{
	if (p != NULL) {
		char  *b = (char *) p - 8;
		size_t n;
		memcpy(&n, b, sizeof(n));
		if (memcmp(b + 8 + n, skew_canary, 8) != 0) {
			atomic_fetch_add(&skew_overruns, 1);
		}
		free(b);
	}
}

static void *
skew_calloc(size_t n, size_t size)
{
	char *p = skew_malloc(n * size);
	if (p != NULL) {
		memset(p, 0, n * size);
	}
	return p;
}

static void *
skew_realloc(void *p, size_t n)
{
	char *q = skew_malloc(n);
	if (q != NULL && p != NULL) {
		size_t old;
		memcpy(&old, (char *) p - 8, sizeof(old));
		memcpy(q, p, old < n ? old : n);
		skew_free(p);
	}
	return q;
}

/* Every payload and the rest of the event intact, the payload 16-byte
 * aligned: for each topic and key length, from each path that makes an
 * event (new, publish by string and by handle, hold of an emit's). */
static const weir_event *held;

static weir_err
hold_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) arg;
	held = weir_event_hold(ev);
	return WEIR_OK;
}

static void
check_event(const weir_event *ev, const char *topic, const char *key,
    const char *payload, size_t len)
{
	size_t      n;
	const void *p = weir_event_payload(ev, &n);
	assert_int_equal(n, len);
	assert_int_equal((uintptr_t) p % 16, 0);
	assert_memory_equal(p, payload, len);
	assert_string_equal(weir_event_topic(ev), topic);
	const void *k = weir_event_key(ev, &n);
	assert_int_equal(n, strlen(key));
	if (n) {
		assert_memory_equal(k, key, n);
	} else {
		assert_null(k);
	}
}

static void
check_paths(weir_bus *bus, weir_subscr *sub, const char *topic,
    const char *key, const char *payload, size_t len)
{
	const weir_event *ev;
	weir_event_init   init = { .size = sizeof(init),
		  .topic                 = topic,
		  .key                   = key,
		  .key_len               = strlen(key),
		  .payload               = payload,
		  .payload_len           = len };
	weir_event       *made;
	assert_weir_ok(weir_event_new(&made, &init));
	check_event(made, topic, key, payload, len);
	weir_event_release(made);
	assert_weir_ok(weir_publish(bus, topic, payload, len, 0, NULL));
	assert_weir_ok(weir_subscr_next(sub, &ev, 0));
	check_event(ev, topic, "", payload, len);
	weir_event_release(ev);
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, bus, topic));
	assert_weir_ok(weir_publish_topic(t, payload, len));
	assert_weir_ok(weir_subscr_next(sub, &ev, 0));
	check_event(ev, topic, "", payload, len);
	weir_event_release(ev);
	assert_weir_ok(weir_emit_topic(t, payload, len, NULL));
	check_event(held, topic, "", payload, len);
	weir_event_release(held);
	// A batch whose events change size class (blocks taken a class at
	// a time, and given back when an allocator misaligns them).
	size_t   other   = (len * 7 + 5) % 300;
	weir_buf bufs[3] = { { payload, len }, { payload, other },
		{ payload, len } };
	assert_weir_ok(weir_publish_batch(t, bufs, 3, NULL));
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_subscr_next(sub, &ev, 0));
		check_event(ev, topic, "", payload, bufs[i].len);
		weir_event_release(ev);
	}
	weir_topic_destroy(t);
}

static void
check_layouts(void)
{
	weir_bus    *bus;
	weir_subscr *sub;
	char         topic[48] = "l.", key[40] = "", payload[300];
	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] = (char) ('a' + i % 26);
	}
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "l.>", NULL, NULL, NULL, NULL));
	assert_weir_ok(weir_on(bus, "l.>", hold_handler, NULL, NULL, 0, NULL));
	for (size_t tl = 3; tl < 40; tl += 3) {
		memset(topic + 2, 't', tl - 2);
		topic[tl] = '\0';
		memset(key, 'k', tl % 20);
		key[tl % 20] = '\0';
		for (size_t len = 0; len < sizeof(payload); len++) {
			check_paths(bus, sub, topic, key, payload, len);
		}
	}
	weir_bus_destroy(bus);
}

// The allocator whose blocks come misaligned (skew_malloc and co.).
static const weir_allocator skew = { .size = sizeof(weir_allocator),
	.malloc_fn                         = skew_malloc,
	.calloc_fn                         = skew_calloc,
	.realloc_fn                        = skew_realloc,
	.free_fn                           = skew_free };

static void
test_payload_aligned_and_intact(void **state)
{
	(void) state;
	check_layouts();
}

static void
test_payload_aligned_with_skewed_allocator(void **state)
{
	(void) state;
	assert_weir_ok(weir_set_allocator(&skew));
	check_layouts();
	assert_weir_ok(weir_set_allocator(NULL)); // frees the pooled blocks
	assert_int_equal(atomic_load(&skew_overruns), 0);
}

/* A batch with the skewed allocator whose n-th allocation fails, n = 1,
 * 2, ...: the batch's block (src/core/evblock.c) comes misaligned and
 * its payloads are placed 16-byte aligned inside it. Every failing
 * point stops the batch at the events made (WEIR_ENOMEM), which arrive
 * intact, aligned and in order; nothing leaks or overruns. */
static void
test_batch_skewed_allocator_failing(void **state)
{
	(void) state;
	static char  payload[200];
	weir_bus    *bus;
	weir_subscr *sub;
	weir_topic  *t;
	memset(payload, 'p', sizeof(payload));
	assert_weir_ok(weir_set_allocator(&skew));
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "s.x", NULL, NULL, NULL, NULL));
	assert_weir_ok(weir_topic_create(&t, bus, "s.x"));
	weir_buf bufs[4] = { { payload, 10 }, { payload, 20 },
		{ payload, 150 }, { payload, 30 } };
	int      fails   = 0;
	long     n;
	for (n = 1; n < 1000; n++) {
		weir__evpool_flush();
		skew_calls        = 0;
		skew_fail_at      = n;
		size_t   accepted = 99;
		weir_err rv       = weir_publish_batch(t, bufs, 4, &accepted);
		long     calls    = skew_calls;
		skew_fail_at      = 0;
		if (rv != WEIR_OK) {
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_true(accepted < 4);
			fails++;
		} else {
			assert_int_equal(accepted, 4);
		}
		for (size_t i = 0; i < accepted; i++) {
			const weir_event *ev;
			assert_weir_ok(weir_subscr_next(sub, &ev, 0));
			size_t      len;
			const void *p = weir_event_payload(ev, &len);
			assert_int_equal(len, bufs[i].len);
			assert_int_equal(((uintptr_t) p) % 16, 0);
			assert_memory_equal(p, payload, len);
			weir_event_release(ev);
		}
		if (rv == WEIR_OK && calls < n) {
			break;
		}
	}
	assert_true(n < 1000);
	assert_true(fails >= 1);
	weir_topic_destroy(t);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
	assert_weir_ok(weir_set_allocator(NULL));
	assert_int_equal(atomic_load(&skew_overruns), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_copies_everything),
		cmocka_unit_test(test_minimal_event),
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_headers_get),
		cmocka_unit_test(test_bad_init),
		cmocka_unit_test(test_uuid_v7_bits),
		cmocka_unit_test(test_uuid_monotonic),
		cmocka_unit_test(test_uuid_format_parse),
		cmocka_unit_test(test_uuid_parse_bad),
		cmocka_unit_test(test_payload_aligned_and_intact),
		cmocka_unit_test(test_payload_aligned_with_skewed_allocator),
		cmocka_unit_test(test_batch_skewed_allocator_failing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
