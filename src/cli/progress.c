#include "cli/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "cli/opts.h"

void
weir__progress_start(cli_progress *p)
{
	p->tty          = isatty(2);
	p->start_ns     = weir__opts_now_ns();
	p->last_draw_ns = 0;
}

void
weir__progress_update(cli_progress *p, uint64_t done, uint64_t total)
{
	int64_t now = weir__opts_now_ns();
	if (!p->tty || now - p->last_draw_ns < 100000000)
		return;
	p->last_draw_ns = now;
	double secs     = (double) (now - p->start_ns) / 1e9;
	double rate     = secs > 0 ? (double) done / secs : 0;
	double frac     = total > 0 ? (double) done / (double) total : 1;
	double eta      = rate > 0 ? (double) (total - done) / rate : 0;
	char   bar[31];
	int    fill = (int) (frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3.0f%% %llu/%llu %.0f ev/s ETA %.0fs   ", bar,
	    frac * 100, (unsigned long long) done, (unsigned long long) total,
	    rate, eta);
}

void
weir__progress_end(cli_progress *p, uint64_t done, uint64_t last_seq)
{
	double secs = (double) (weir__opts_now_ns() - p->start_ns) / 1e9;
	if (p->tty)
		fprintf(stderr, "\r%78s\r", "");
	fprintf(stderr,
	    "weir: replayed %llu events in %.2f s (%.0f ev/s), last seq "
	    "%llu\n",
	    (unsigned long long) done, secs,
	    secs > 0 ? (double) done / secs : 0,
	    (unsigned long long) last_seq);
}
