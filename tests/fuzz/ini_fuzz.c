/*
 * libFuzzer target: the weir tool's INI config loader (src/cli/config.c,
 * libinih through a line-counting reader of its own).
 *
 * The input is a whole config file. config.c reads only files, so each
 * input is written to one temporary file (made once, rewritten per
 * input). weir__config_load() must return 0 with a config whose every
 * route has its mandatory keys and every entry a key, a value and a
 * line within the file, or -1 with an error that starts with
 * "FILE:LINE: " (LINE from 1 to the file's line count, plus one for a
 * last line without its newline); never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[64];

static void
fail(const char *what, const cli_config *c)
{
	fprintf(stderr, "ini_fuzz: %s\n", what);
	if (c != NULL)
		fprintf(stderr, "ini_fuzz: error: %s\n", c->err);
	abort();
}

static void
fuzz_cleanup(void)
{
	unlink(fuzz_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	const char *dir = getenv("TMPDIR");
	snprintf(fuzz_path, sizeof fuzz_path, "%.40s/ini_fuzz.XXXXXX",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp");
	int fd = mkstemp(fuzz_path);
	if (fd < 0)
		fail("cannot make the temporary file", NULL);
	close(fd);
	atexit(fuzz_cleanup);
	return 0;
}

static void
write_input(const uint8_t *data, size_t size)
{
	FILE *f = fopen(fuzz_path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		fail("cannot write the temporary file", NULL);
}

// Lines in the file: newlines, plus one for a last line without one.
static long
line_count(const uint8_t *data, size_t size)
{
	long n = 0;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size > 0 && data[size - 1] != '\n');
}

static void
check_error(const cli_config *c, long lines)
{
	size_t plen = strlen(fuzz_path);
	char  *end;
	if (memchr(c->err, '\0', sizeof c->err) == NULL ||
	    strncmp(c->err, fuzz_path, plen) != 0 || c->err[plen] != ':')
		fail("the error does not start with the file's name", c);
	long line = strtol(c->err + plen + 1, &end, 10);
	if (end == c->err + plen + 1 || strncmp(end, ": ", 2) != 0 ||
	    end[2] == '\0')
		fail("the error does not name file:line and say why", c);
	if (line < 1 || line > lines + 1)
		fail("the error's line is outside the file", c);
}

static void
check_config(const cli_config *c, long lines)
{
	for (size_t i = 0; i < c->nentries; i++) {
		const cli_entry *e = &c->entries[i];
		if (e->key == NULL || e->value == NULL || e->line < 1 ||
		    e->line > lines)
			fail("an entry without key, value or line", c);
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		const cli_route *r = &c->routes[i];
		if (r->name == NULL || r->pattern == NULL ||
		    r->scheme == NULL || r->dest == NULL || r->line < 1 ||
		    r->line > lines)
			fail("a route without its mandatory keys", c);
	}
	if (c->store_path != NULL &&
	    (c->store_line < 1 || c->store_line > lines))
		fail("the store path's line is outside the file", c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cli_config c;
	long       lines = line_count(data, size);
	write_input(data, size);
	if (weir__config_load(&c, fuzz_path) != 0)
		check_error(&c, lines);
	else
		check_config(&c, lines);
	weir__config_free(&c);
	return 0;
}
