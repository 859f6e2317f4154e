/*
 * The weir tool: exit codes and the subcommands' entry points.
 * Each subcommand lives in its own file (gateway.c, replay.c, tail.c,
 * dlq.c, stats.c) and takes the arguments after its name (argv[0] is
 * the subcommand's name).
 */
#ifndef WEIR_CLI_CLI_H
#define WEIR_CLI_CLI_H

/* Exit codes, the same for every subcommand (weir(1) lists them). */
#define CLI_EXIT_OK 0      /* done */
#define CLI_EXIT_RUNTIME 1 /* the store, a broker, a socket, a file */
#define CLI_EXIT_USAGE 2   /* unknown flag, bad or missing argument */
#define CLI_EXIT_INPUT 3   /* a malformed NDJSON line or config entry */
#define CLI_EXIT_PARTIAL 4 /* some events were not delivered */

int weir__cli_gateway(int argc, char **argv);
int weir__cli_replay(int argc, char **argv);
int weir__cli_tail(int argc, char **argv);
int weir__cli_dlq(int argc, char **argv);
int weir__cli_stats(int argc, char **argv);

/* The exit code text every help page ends with. */
extern const char weir__cli_exit_help[];

#endif
