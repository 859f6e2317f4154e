// The limits of an event (header names, values and count, key, topic,
// the total size) are refused at weir_event_new, exactly at the bound.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "weir_test.h"

static weir_err
new_with_header(const char *name, const void *value, size_t len)
{
	weir_header     h    = { name, value, len };
	weir_event_init init = { .size = sizeof(init),
		.topic                 = "a.b",
		.headers               = &h,
		.header_count          = 1 };
	weir_event     *ev   = NULL;
	weir_err        rv   = weir_event_new(&ev, &init);
	weir_event_release(ev);
	return rv;
}

// Regression: a name of 65,535 bytes or more did not fit the store's
// 16-bit length and was accepted, so the stored row never read back.
static void
test_header_name_65535_refused(void **state)
{
	(void) state;
	char *name = wt_filled(65535, 'h');
	assert_weir_err(new_with_header(name, "v", 1), WEIR_EINVAL);
	free(name);
}

// Regression: lengths near SIZE_MAX wrapped the size sum, so a small
// block was allocated and the copy ran past it.
static void
test_size_sum_near_size_max_refused(void **state)
{
	(void) state;
	char            buf[16] = "x";
	weir_event_init init    = { .size = sizeof(init),
		   .topic                 = "a.b",
		   .payload               = buf,
		   .payload_len           = SIZE_MAX - 8 };
	weir_event     *ev      = NULL;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	assert_null(ev);
	weir_header hdr[2] = { { "a", buf, SIZE_MAX / 2 },
		{ "b", buf, SIZE_MAX / 2 } };
	init.payload_len   = 0;
	init.headers       = hdr;
	init.header_count  = 2;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	assert_null(ev);
}

// Every limit of weir.h: the maximum is accepted, one more refused.
static void
test_exact_bounds(void **state)
{
	(void) state;
	char *name  = wt_filled(WEIR_MAX_HEADER_NAME + 1, 'n');
	char *value = wt_filled(WEIR_MAX_HEADER_VALUE + 1, 'v');
	char *topic = wt_filled(WEIR_MAX_TOPIC + 1, 't');
	char *key   = wt_filled(WEIR_MAX_KEY + 1, 'k');
	assert_weir_err(new_with_header(name, "v", 1), WEIR_EINVAL);
	name[WEIR_MAX_HEADER_NAME] = '\0';
	assert_weir_ok(new_with_header(name, "v", 1));
	assert_weir_ok(new_with_header("h", value, WEIR_MAX_HEADER_VALUE));
	assert_weir_err(new_with_header("h", value, WEIR_MAX_HEADER_VALUE + 1),
	    WEIR_EINVAL);
	assert_weir_err(weir_topic_validate(topic), WEIR_EBADTOPIC);
	weir_event     *ev   = NULL;
	weir_event_init init = { .size = sizeof(init),
		.topic                 = topic,
		.key                   = key,
		.key_len               = WEIR_MAX_KEY };
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EBADTOPIC);
	topic[WEIR_MAX_TOPIC] = '\0';
	assert_weir_ok(weir_topic_validate(topic));
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_event_release(ev);
	init.key_len = WEIR_MAX_KEY + 1;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	init.key_len = WEIR_MAX_KEY;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_event_release(ev);
	weir_header hdr[WEIR_MAX_HEADERS + 1];
	for (size_t i = 0; i <= WEIR_MAX_HEADERS; i++) {
		hdr[i] = (weir_header) { "h", "v", 1 };
	}
	init.headers      = hdr;
	init.header_count = WEIR_MAX_HEADERS + 1;
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EINVAL);
	init.header_count = WEIR_MAX_HEADERS;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_event_release(ev);
	free(name);
	free(value);
	free(topic);
	free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_name_65535_refused),
		cmocka_unit_test(test_size_sum_near_size_max_refused),
		cmocka_unit_test(test_exact_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
