// weir: the command-line tool. main() only dispatches to a subcommand;
// each subcommand parses its own options (opts.c) and returns one of
// the CLI_EXIT_ codes of cli.h.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <weir/weir.h>

#include "cli/cli.h"
#include "cli/wire.h"

const char weir__cli_exit_help[] =
    "exit codes:\n"
    "  0  done\n"
    "  1  runtime error (store, broker, socket, file)\n"
    "  2  usage error (unknown option, bad or missing argument)\n"
    "  3  bad input (a malformed NDJSON line or config entry)\n"
    "  4  not everything was delivered (replay --to bus, dlq retry)\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *about;
} main_cmds[] = {
	{ "gateway", weir__cli_gateway,
	    "NDJSON events on stdin or a UNIX socket -> store -> routes" },
	{ "replay", weir__cli_replay,
	    "a store's events to stdout (NDJSON) or the config's routes" },
	{ "tail", weir__cli_tail, "the last events of a store; -f follows" },
	{ "dlq", weir__cli_dlq, "dead letters: list, show, retry, purge" },
	{ "stats", weir__cli_stats,
	    "a store's figures or a running gateway's stats (JSON)" },
};

static void
main_help(FILE *f)
{
	fprintf(f,
	    "usage: weir <command> [options]\n"
	    "       weir --version | --help\n\n"
	    "commands (weir <command> --help for each):\n");
	for (size_t i = 0; i < sizeof main_cmds / sizeof *main_cmds; i++)
		fprintf(
		    f, "  %-9s %s\n", main_cmds[i].name, main_cmds[i].about);
	fprintf(f, "\n%s", weir__cli_exit_help);
}

int
main(int argc, char **argv)
{
	/* A client that goes away must not kill a gateway: writes to
	 * closed sockets and pipes fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		main_help(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("weir %d.%d.%d\nbackends: %s\n", WEIR_VERSION_MAJOR,
		    WEIR_VERSION_MINOR, WEIR_VERSION_PATCH,
		    weir__wire_backends());
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		main_help(stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof main_cmds / sizeof *main_cmds; i++)
		if (strcmp(argv[1], main_cmds[i].name) == 0)
			return main_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "weir: unknown command '%s'\n\n", argv[1]);
	main_help(stderr);
	return CLI_EXIT_USAGE;
}
