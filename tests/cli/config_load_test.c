/*
 * The weir tool's INI reader (src/cli/config.c), unit by unit: each
 * entry it refuses gives "file:line: ..." naming the key, each it takes
 * lands in cli_config, and an allocation failure anywhere is a clean
 * error without a leak (ASan's LSan checks).
 */
#include "weir_test.h"

#include "cli/config.h"
#include "libc_fail.h"

static const char *cfg_file = "config_load_test.ini";

/* Writes @p text (n bytes) as the INI file and loads it. */
static int
load_n(cli_config *c, const char *text, size_t n)
{
	FILE *f = fopen(cfg_file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
	return weir__config_load(c, cfg_file);
}

static int
load(cli_config *c, const char *text)
{
	return load_n(c, text, strlen(text));
}

/* Loading @p text fails with an error text containing @p want. */
static void
refused(const char *text, const char *want)
{
	cli_config c;
	int        rv = load(&c, text);
	if (rv == 0 || strstr(c.err, want) == NULL)
		fail_msg(
		    "'%s': rv %d, err '%s', want '%s'", text, rv, c.err, want);
	weir__config_free(&c);
}

static void
test_store_section(void **state)
{
	(void) state;
	cli_config c;
	assert_int_equal(load(&c,
	                     "[store]\npath = a.db\npath = b.db\n"
	                     "durability = normal\nmax_event = 4096\n"),
	    0);
	assert_string_equal(c.store_path, "b.db");
	assert_int_equal(c.store_line, 3);
	assert_int_equal(c.durability, WEIR_STORE_DURABILITY_NORMAL);
	assert_int_equal(c.max_event, 4096);
	weir__config_free(&c);
	assert_int_equal(load(&c, "[store]\ndurability = full\n"), 0);
	assert_int_equal(c.durability, WEIR_STORE_DURABILITY_FULL);
	weir__config_free(&c);
	refused("[store]\ndurability = fast\n",
	    ":2: [store] durability: 'fast' is not full or normal");
	refused("[store]\nmax_event = 0\n", ":2: [store] max_event: '0'");
	refused("[store]\nmax_event = x1\n", "max_event: 'x1'");
	refused("[store]\nmax_event = 12k\n", "max_event: '12k'");
	refused("[store]\nmax_event = -1\n", "max_event: '-1'");
	refused("[store]\nsize = 1\n", ":2: [store]: unknown key 'size'");
}

static void
test_routes(void **state)
{
	(void) state;
	cli_config c;
	assert_int_equal(load(&c,
	                     "[route a]\npattern = x.*\nscheme = mem\n"
	                     "dest = d\nkey = id\nkey = none\ndirect = yes\n"
	                     "window = 8\nmax_backlog = 100\n"
	                     "max_attempts = 3\n[route b]\npattern = y\n"
	                     "scheme = mem\ndest = e\ndirect = no\n"
	                     "[route a]\ndirect = 1\n[route b]\ndirect = 0\n"
	                     "[route a]\ndirect = true\n[route b]\n"
	                     "direct = false\n"),
	    0);
	assert_int_equal(c.nroutes, 2);
	assert_string_equal(c.routes[0].name, "a");
	assert_string_equal(c.routes[0].key, "none");
	assert_int_equal(c.routes[0].opts.direct, 1);
	assert_int_equal(c.routes[0].opts.window, 8);
	assert_int_equal(c.routes[0].opts.max_backlog, 100);
	assert_int_equal(c.routes[0].opts.max_attempts, 3);
	assert_int_equal(c.routes[0].line, 2); /* of its first key */
	assert_int_equal(c.routes[1].opts.direct, 0);
	weir__config_free(&c);
	refused("[route a]\ndirect = maybe\n",
	    ":2: [route a] direct: 'maybe' is not true or false");
	refused("[route a]\nwindow = 0\n",
	    ":2: [route a] window: '0' is not a number from 1 to 4294967295");
	refused("[route a]\nmax_attempts = 4294967296\n", "max_attempts");
	refused("[route a]\ncolour = red\n",
	    ":2: [route a]: unknown key 'colour'");
	refused("[route a]\nscheme = mem\ndest = d\n",
	    ":2: [route a]: 'pattern' is missing");
	refused("[route a]\npattern = p\ndest = d\n", "'scheme' is missing");
	refused("[route a]\npattern = p\nscheme = mem\n", "'dest' is missing");
	refused("[route ]\npattern = p\n", ":2: unknown section [route ]");
}

static void
test_backend_sections(void **state)
{
	(void) state;
	cli_config c;
	assert_int_equal(load(&c,
	                     "; comment\n[kafka]\nbootstrap.servers = h:1\n"
	                     "acks = all\n[nats]\nurl = nats://h\n[mem]\n"
	                     "record_path = r.txt\n[bridge]\nwindow = 4\n"
	                     "[kafka]\nlinger.ms = 1\n"),
	    0);
	assert_int_equal(c.kafka_line, 3);
	assert_int_equal(c.nats_line, 6);
	assert_int_equal(c.nentries, 6);
	assert_string_equal(c.entries[0].key, "kafka.bootstrap.servers");
	assert_int_equal(c.entries[5].line, 12);
	/* the longest key mentioned wins, and none is NULL */
	const cli_entry *e = weir__config_blame(&c, "kafka.acks: bad");
	assert_non_null(e);
	assert_string_equal(e->key, "kafka.acks");
	e = weir__config_blame(&c, "kafka.linger.ms kafka.acks");
	assert_string_equal(e->key, "kafka.linger.ms");
	e = weir__config_blame(&c, "kafka.acks kafka.linger.ms");
	assert_string_equal(e->key, "kafka.linger.ms");
	e = weir__config_blame(&c, "kafka.bootstrap.servers, kafka.acks");
	assert_string_equal(e->key, "kafka.bootstrap.servers");
	assert_null(weir__config_blame(&c, "nothing here"));
	weir__config_free(&c);
	refused(
	    "[bridge]\nno_such = 1\n", ":2: [bridge]: unknown key 'no_such'");
	refused("top = 1\n", ":1: key 'top' outside a section");
	refused("[colour]\nx = 1\n", ":2: unknown section [colour]");
}

static void
test_lines(void **state)
{
	(void) state;
	cli_config c;
	refused("[store]\nthis is not ini\n", ":2: not an INI line");
	refused("[store\n", ":1: not an INI line");
	/* a line longer than inih's buffer, and one holding a NUL */
	char long_line[1200];
	memset(long_line, 'a', sizeof long_line);
	memcpy(long_line, "[mem]\nx = ", 10);
	long_line[sizeof long_line - 2] = '\n';
	long_line[sizeof long_line - 1] = '\0';
	refused(long_line, ":2: line too long");
	assert_int_equal(load_n(&c, "[mem]\nx = a\0b\n", 13), -1);
	assert_non_null(strstr(c.err, ":2: a NUL byte in the line"));
	weir__config_free(&c);
	/* the last line without a newline, and an empty file */
	assert_int_equal(load(&c, "[mem]\nx = 1"), 0);
	assert_string_equal(c.entries[0].value, "1");
	weir__config_free(&c);
	assert_int_equal(load(&c, ""), 0);
	assert_int_equal(c.nentries, 0);
	weir__config_free(&c);
	assert_int_equal(weir__config_load(&c, "no/such/file.ini"), -1);
	assert_non_null(strstr(c.err, "no/such/file.ini: cannot open"));
	weir__config_free(&c);
}

/* Every allocation of a load fails in turn: each is a clean error
 * ("out of memory"), never a load that succeeds without the value (a
 * failed strdup of [store] path used to load as "no path"). */
static void
test_out_of_memory(void **state)
{
	(void) state;
	static const char text[] = "[store]\npath = a.db\n[kafka]\nacks = 1\n"
	                           "[bridge]\nwindow = 4\n[route r]\n"
	                           "pattern = p\nscheme = mem\ndest = d\n"
	                           "key = id\n";
	for (long n = 1; n < 200; n++) {
		cli_config c;
		FILE      *f = fopen(cfg_file, "wb");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		lf_arm(n);
		int  rv    = weir__config_load(&c, cfg_file);
		long fired = lf_calls >= n;
		lf_arm(0);
		if (fired) {
			if (rv == 0)
				fail_msg(
				    "allocation %ld failed, the load did not",
				    n);
			if (strstr(c.err, "out of memory") == NULL)
				fail_msg("allocation %ld: %s", n, c.err);
			weir__config_free(&c);
			continue;
		}
		assert_int_equal(rv, 0);
		assert_string_equal(c.store_path, "a.db");
		assert_string_equal(c.routes[0].key, "id");
		weir__config_free(&c);
		assert_true(n > 5);
		return;
	}
	fail_msg("the load never succeeded");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_section),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_backend_sections),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
