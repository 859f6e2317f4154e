/*
 * Signals for the long-running subcommands: SIGINT and SIGTERM ask to
 * stop (drain and close), SIGUSR1 asks for stats. The handler only sets
 * flags and writes a byte to a pipe, so a poll() loop wakes up.
 */
#ifndef WEIR_CLI_SIG_H
#define WEIR_CLI_SIG_H

/* Installs the handlers; returns the pipe's read end (to poll), or -1. */
int weir__sig_install(void);
/* 1 once SIGINT or SIGTERM came. Any thread. */
int weir__sig_stopping(void);
/* 1 if SIGUSR1 came since the last call (and clears it). */
int weir__sig_take_usr1(void);
/* Empties the pipe (after poll() said it is readable). */
void weir__sig_drain(void);
/* Sleeps up to @p ms, returning early when a stop is asked. */
void weir__sig_sleep_ms(int ms);

#endif
