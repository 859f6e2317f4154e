/*
 * The gateway's counters and stats JSON (src/cli/gwstats.c): topics
 * counted one by one up to GW_MAX_TOPICS, the rest in one "(other)"
 * slot; a count lost (not a crash) when its allocation fails; the JSON
 * with the bus's stats, or null for them, or nothing, when an
 * allocation fails (libc's through --wrap, jansson's through its hook);
 * and a stats client served the JSON and a newline.
 */
#include "weir_test.h"

#include <jansson.h>
#include <signal.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "cli/opts.h"
#include "cli/sock.h"
#include "libc_fail.h"

/* main.c is not linked (it has main): its one shared text. */
const char weir__cli_exit_help[] = "exit codes: (gwstats_test)\n";

static uint64_t
count_of(const gateway *gw, const char *name)
{
	for (size_t i = 0; i < gw->ntopics; i++)
		if (strcmp(gw->topics[i].name, name) == 0)
			return gw->topics[i].count;
	return 0;
}

static void
test_topics(void **state)
{
	(void) state;
	gateway gw = { 0 };
	weir__gw_count_topic(&gw, "a");
	weir__gw_count_topic(&gw, "b");
	weir__gw_count_topic(&gw, "a");
	assert_int_equal(gw.ntopics, 2);
	assert_int_equal(count_of(&gw, "a"), 2);
	/* the slot's realloc, then the name's strdup failing: not counted */
	lf_arm(1);
	weir__gw_count_topic(&gw, "c");
	lf_arm(2);
	weir__gw_count_topic(&gw, "c");
	lf_arm(0);
	assert_int_equal(gw.ntopics, 2);
	assert_int_equal(count_of(&gw, "c"), 0);
	/* up to the limit, one slot each; past it, ten more distinct
	 * topics share the one "(other)" slot: the table stays bounded */
	char name[32];
	for (int i = 2; i < 4096; i++) {
		snprintf(name, sizeof name, "t%d", i);
		weir__gw_count_topic(&gw, name);
	}
	assert_int_equal(gw.ntopics, 4096);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "late%d", i);
		weir__gw_count_topic(&gw, name);
	}
	weir__gw_count_topic(&gw, "a"); /* a known topic keeps its slot */
	assert_int_equal(gw.ntopics, 4097);
	assert_int_equal(count_of(&gw, "(other)"), 10);
	assert_int_equal(count_of(&gw, "a"), 3);
	weir__gw_topics_free(&gw);
	assert_int_equal(gw.ntopics, 0);
	assert_null(gw.topics);
}

static void
check_json(const char *text, int bus_null)
{
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	json_t *g = json_object_get(o, "gateway");
	assert_int_equal(json_integer_value(json_object_get(g, "lines")), 7);
	assert_int_equal(
	    json_integer_value(json_object_get(g, "accepted")), 5);
	assert_int_equal(
	    json_integer_value(json_object_get(g, "rejected")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(g, "topics"), "x")),
	    5);
	json_t *bus = json_object_get(o, "bus");
	assert_non_null(bus);
	if (bus_null)
		assert_true(json_is_null(bus));
	else
		assert_true(json_is_object(bus));
	json_decref(o);
}

static void
test_json(void **state)
{
	(void) state;
	gateway gw    = { .lines = 7, .accepted = 5, .rejected = 2 };
	gw.started_ns = weir__opts_now_ns();
	assert_int_equal(weir_bus_create(&gw.bus, NULL), WEIR_OK);
	for (int i = 0; i < 5; i++)
		weir__gw_count_topic(&gw, "x");
	char *text = weir__gw_stats_json(&gw);
	assert_non_null(text);
	check_json(text, 0);
	free(text);
	/* the n-th allocation failing, n = 1, 2, ...: no JSON at all, or
	 * the gateway's figures with "bus":null, or the whole */
	json_set_alloc_funcs(lf_json_malloc, lf_json_free);
	int  nulls = 0, none = 0;
	long n, none_at      = 0;
	for (n = 1; n < 1000; n++) {
		lf_arm(n);
		text       = weir__gw_stats_json(&gw);
		long fired = lf_calls >= n;
		lf_arm(0);
		if (text == NULL) {
			none_at = none++ == 0 ? n : none_at;
		} else {
			int bus_null = strstr(text, "\"bus\":null") != NULL;
			nulls += bus_null;
			check_json(text, bus_null);
		}
		free(text);
		if (!fired)
			break;
	}
	assert_true(n < 1000);
	assert_true(none > 0);
	assert_true(nulls > 0);
	/* a stats client: the JSON and a newline, then the socket closes */
	unlink("gwstats_test.sock");
	gw.sfd = weir__sock_listen("gwstats_test.sock");
	assert_true(gw.sfd >= 0);
	int c = weir__sock_connect("gwstats_test.sock");
	assert_true(c >= 0);
	weir__gw_stats_serve(&gw);
	char *got = weir__sock_read_all(c);
	assert_non_null(got);
	assert_true(strlen(got) > 1 && got[strlen(got) - 1] == '\n');
	check_json(got, 0);
	free(got);
	close(c);
	/* a client served when no JSON can be made: closed without a word */
	c = weir__sock_connect("gwstats_test.sock");
	assert_true(c >= 0);
	lf_arm(none_at);
	weir__gw_stats_serve(&gw);
	lf_arm(0);
	got = weir__sock_read_all(c);
	assert_non_null(got);
	assert_string_equal(got, "");
	free(got);
	close(c);
	json_set_alloc_funcs(malloc, free);
	close(gw.sfd);
	unlink("gwstats_test.sock");
	weir__gw_topics_free(&gw);
	weir_bus_destroy(gw.bus);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
