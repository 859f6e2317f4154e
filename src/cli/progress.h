/* Replay progress on stderr: a bar with rate and ETA on a terminal, one
 * summary line otherwise. */
#ifndef WEIR_CLI_PROGRESS_H
#define WEIR_CLI_PROGRESS_H

#include <stdint.h>

typedef struct cli_progress {
	int     tty;
	int64_t start_ns, last_draw_ns;
} cli_progress;

void weir__progress_start(cli_progress *p);
/* Redraws the bar (at most 10 times a second) when on a terminal. */
void weir__progress_update(cli_progress *p, uint64_t done, uint64_t total);
/* Clears the bar and prints "replayed N events in T s (R/s)...". */
void weir__progress_end(cli_progress *p, uint64_t done, uint64_t last_seq);

#endif
