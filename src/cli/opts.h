/*
 * Command-line options: one table per subcommand gives getopt_long its
 * options AND the --help text, so the help cannot forget an option the
 * code accepts (tests/cli/help_test.sh checks the tables against both
 * the help and the man pages).
 */
#ifndef WEIR_CLI_OPTS_H
#define WEIR_CLI_OPTS_H

#include <getopt.h> /* optind: the first operand after parsing */
#include <stdint.h>
#include <stdio.h>

/* One option: long name, short letter (0: none), argument name (NULL:
 * a flag), help text. A table ends with a zeroed entry. */
typedef struct cli_opt {
	const char *name;
	int         letter;
	const char *arg;
	const char *help;
} cli_opt;

/* A subcommand's usage: its synopsis line, what it does, its options. */
typedef struct cli_usage {
	const char    *synopsis;
	const char    *about;
	const cli_opt *opts;
} cli_usage;

/* Parses the next option of argv (getopt_long under the hood). Returns
 * the option's index in the table, -1 at the end of the options, -2 for
 * --help (help printed on stdout), -3 for an unknown option or a
 * missing argument (message and usage printed on stderr). *arg receives
 * the option's argument or NULL. */
int weir__opts_next(
    int argc, char **argv, const cli_usage *u, const char **arg);
/* Prints the help: synopsis, about, options, exit codes. */
void weir__opts_help(FILE *f, const cli_usage *u);
/* "weir <cmd>: <message>" on stderr plus the usage line; returns
 * CLI_EXIT_USAGE. */
int weir__opts_usage_error(const cli_usage *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Numbers and times from arguments (never NULL: the options that take
 * them require one); 0 on success, -1 if malformed. */
int weir__opts_u64(const char *s, uint64_t *out);
int weir__opts_double(const char *s, double *out);
/* A duration in seconds, from 0 to 86400 (a day): larger ones would
 * overflow the int64 nanoseconds and int milliseconds of deadlines. */
int weir__opts_seconds(const char *s, double *out);
/* A time: unix seconds ("1700000000", "1700000000.25"), RFC 3339
 * ("2024-05-06T07:08:09Z", "...09.5+02:00") or relative to now
 * ("-30s", "-10m", "-2h", "-1d"). Unix nanoseconds in *ns. */
int weir__opts_time(const char *s, int64_t *ns);
/* The wall clock in unix nanoseconds. */
int64_t weir__opts_now_ns(void);

#endif
