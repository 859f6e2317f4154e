/*
 * The replay's progress report (src/cli/progress.c), its stderr sent
 * to a file: the bar on a terminal (full when the total is unknown,
 * part-filled with a rate and an ETA), at most ten redraws a second,
 * nothing but the summary off a terminal, and a clock that has not
 * moved forward since the start (rate 0, never a division by zero).
 */
#include "weir_test.h"

#include <fcntl.h>
#include <unistd.h>

#include "cli/opts.h"
#include "cli/progress.h"
#include "libc_fail.h" /* the allocation wraps every tool unit links */

/* main.c is not linked (it has main): its one shared text. */
const char weir__cli_exit_help[] = "exit codes: (progress_test)\n";

static int saved_err = -1;

static void
err_to_file(void)
{
	fflush(stderr);
	saved_err = dup(2);
	int fd = open("progress_test.err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_err >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
}

/* Restores stderr; returns what was written to it (static). */
static const char *
err_back(void)
{
	static char buf[4096];
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	FILE *f = fopen("progress_test.err", "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void
test_bar(void **state)
{
	(void) state;
	cli_progress p;
	int64_t      now = weir__opts_now_ns();
	err_to_file();
	weir__progress_start(&p);
	p.tty = 1;
	/* a start in the future: no time elapsed, rate 0; total 0: full */
	p.start_ns = now + 1000000000000;
	weir__progress_update(&p, 0, 0);
	/* drawn just now: not again within 100 ms */
	weir__progress_update(&p, 1, 0);
	/* 5 of 10 after 10 s: half the bar, 0.5 ev/s, 10 s left */
	p.start_ns     = now - 10000000000;
	p.last_draw_ns = 0;
	weir__progress_update(&p, 5, 10);
	/* off a terminal: no bar */
	p.tty          = 0;
	p.last_draw_ns = 0;
	weir__progress_update(&p, 6, 10);
	const char *err = err_back();
	const char *want =
	    "\r[##############################] 100% 0/0 0 ev/s ETA 0s   "
	    "\r[###############...............]  50% 5/10 ";
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, " ev/s ETA 1"));
	assert_null(strstr(err, "1/0"));
	assert_null(strstr(err, "6/10"));
}

static void
test_end(void **state)
{
	(void) state;
	cli_progress p = { .tty = 1 };
	/* the clock has not moved since the start: 0 ev/s */
	p.start_ns = weir__opts_now_ns() + 1000000000000;
	err_to_file();
	weir__progress_end(&p, 3, 7);
	p.tty      = 0;
	p.start_ns = weir__opts_now_ns() - 2000000000;
	weir__progress_end(&p, 4, 9);
	const char *err = err_back();
	/* on a terminal the bar's line is blanked first */
	assert_memory_equal(err, "\r", 1);
	assert_non_null(strstr(err, "\rweir: replayed 3 events in "));
	assert_non_null(strstr(err, " s (0 ev/s), last seq 7\n"));
	assert_non_null(strstr(err, "weir: replayed 4 events in 2."));
	assert_non_null(strstr(err, " ev/s), last seq 9\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bar),
		cmocka_unit_test(test_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
