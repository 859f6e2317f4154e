/*
 * Inbound across SIGKILL: a child takes messages in through the mem
 * source, which records every done (the commit to the broker) in a
 * file before it returns; it is killed mid-stream several times and
 * each restart is handed everything again, as a broker redelivers what
 * was not committed. No id may be acknowledged (done) and missing from
 * the log, and the log ends with each id exactly once.
 */
#include <signal.h>
#include <sys/wait.h>

#include "inbound_fixture.h"

#define N 5000
#define KILLS 4

static void
token_id(uint64_t token, char out[37])
{
	snprintf(out, 37, "00000000-0000-7000-8000-%012llx",
	    (unsigned long long) token);
}

/* The child: delivers tokens 1..N and waits until all are done. */
static void
child(const char *path, const char *record)
{
	bt t;
	bt_open_at(&t, path);
	t.bus = wt_bus_with_loops(1);
	weir_bridge_config *cfg;
	weir_bridge_config_create(&cfg);
	weir_bridge_config_set_str(cfg, "mem.done_path", record);
	weir_bridge_config_set_str(cfg, "bridge.inbound.max_in_flight", "64");
	bt_bridge(&t, cfg);
	weir_bridge_config_destroy(cfg);
	void *src = it_route(&t, "in", "t", "in.{topic}", NULL);
	if (weir_bus_start(t.bus) != WEIR_OK ||
	    weir_bridge_start(t.br) != WEIR_OK)
		_exit(3);
	char id[37];
	for (uint64_t i = 1; i <= N; i++) {
		token_id(i, id);
		it_push(src, i, "t", id, NULL);
	}
	int64_t end = wt_now_ms() + 60000;
	while (weir__mem_source_done(src, NULL, 0) < N && wt_now_ms() < end)
		wt_sleep_ms(1);
	_exit(weir__mem_source_done(src, NULL, 0) == N ? 0 : 4);
}

static size_t
record_lines(const char *file)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return 0;
	size_t n = 0;
	for (int c; (c = fgetc(f)) != EOF;)
		n += c == '\n';
	fclose(f);
	return n;
}

static weir_err
mark_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	uint8_t *seen = arg;
	char     text[37];
	weir_uuid_format(weir_event_id(ev), text);
	unsigned long long tok = strtoull(text + 24, NULL, 16);
	if (tok >= 1 && tok <= N)
		seen[tok]++;
	return WEIR_OK;
}

/* Every token recorded as done has its id in the log. */
static void
check_acked_in_log(const char *path, const char *record, int final)
{
	bt t;
	bt_open_at(&t, path);
	uint8_t *seen = calloc(N + 1, 1);
	assert_weir_ok(weir_store_read(t.st, NULL, mark_fn, seen));
	FILE *f = fopen(record, "r");
	assert_non_null(f);
	unsigned long long tok;
	size_t             acked = 0, lost = 0;
	while (fscanf(f, "%llu", &tok) == 1) {
		acked++;
		lost += tok < 1 || tok > N || seen[tok] == 0;
	}
	fclose(f);
	assert_true(acked > 0);
	assert_int_equal(lost, 0);
	for (uint64_t i = 1; final && i <= N; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	weir_store_destroy(t.st);
}

static void
test_sigkill_acked_never_missing(void **state)
{
	(void) state;
	bt t;
	memset(&t, 0, sizeof t);
	bt_dir(&t);
	char record[700];
	snprintf(record, sizeof record, "%s/done.txt", t.dir);
	int killed = 0;
	for (int k = 1; k <= KILLS; k++) {
		size_t at = record_lines(record) + N / (KILLS + 2);
		killed += bt_run_child(
		              child, t.path, record, at, record_lines) == -1;
		check_acked_in_log(t.path, record, 0);
	}
	assert_int_equal(
	    bt_run_child(child, t.path, record, 0, record_lines), 0);
	check_acked_in_log(t.path, record, 1);
	print_message("killed %d times\n", killed);
	bt_rmdir(t.dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_acked_never_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
