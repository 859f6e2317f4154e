// Design notes. getopt_long's tables are built from the subcommand's
// cli_opt table on every call (a handful of entries), so that the table
// is the one source of both parsing and help. Long-only options get a
// value of 256 + index; options with a letter get the letter. "--help"
// and "-h" are added to every table.
#include "cli/opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define OPTS_MAX 40
#define OPTS_HELP 1000
/* Whole seconds int64 nanoseconds hold (INT64_MAX / 1e9, rounded down). */
#define OPTS_MAX_S 9223372036

static size_t
opts_count(const cli_opt *o)
{
	size_t n = 0;
	while (o[n].name != NULL)
		n++;
	return n;
}

static void
opts_build(const cli_usage *u, struct option *lo, char *so)
{
	size_t n = opts_count(u->opts), k = 0;
	*so++ = '+'; /* stop at the first operand (dlq's verbs) */
	*so++ = ':'; /* a missing argument is reported as ':' */
	for (size_t i = 0; i < n && i < OPTS_MAX; i++) {
		const cli_opt *o = &u->opts[i];
		lo[k].name       = o->name;
		lo[k].has_arg    = o->arg != NULL ? required_argument : 0;
		lo[k].flag       = NULL;
		lo[k].val        = o->letter != 0 ? o->letter : 256 + (int) i;
		k++;
		if (o->letter != 0) {
			*so++ = (char) o->letter;
			if (o->arg != NULL)
				*so++ = ':';
		}
	}
	lo[k++] = (struct option) { "help", 0, NULL, OPTS_HELP };
	lo[k]   = (struct option) { NULL, 0, NULL, 0 };
	*so++   = 'h';
	*so     = '\0';
}

static int
opts_index(const cli_usage *u, int val)
{
	if (val >= 256 && val < 256 + OPTS_MAX)
		return val - 256;
	for (size_t i = 0; u->opts[i].name != NULL; i++)
		if (u->opts[i].letter == val)
			return (int) i;
	return -1;
}

int
weir__opts_next(int argc, char **argv, const cli_usage *u, const char **arg)
{
	struct option lo[OPTS_MAX + 2];
	char          so[3 * OPTS_MAX + 4];
	opts_build(u, lo, so);
	opterr  = 0;
	*arg    = NULL;
	int val = getopt_long(argc, argv, so, lo, NULL);
	if (val == -1)
		return -1;
	if (val == OPTS_HELP || val == 'h') {
		weir__opts_help(stdout, u);
		return -2;
	}
	if (val == '?' || val == ':') {
		const char *what =
		    optind > 0 && optind <= argc ? argv[optind - 1] : "?";
		weir__opts_usage_error(u, "%s option '%s'",
		    val == ':' ? "missing argument for" : "unknown", what);
		return -3;
	}
	*arg = optarg;
	return opts_index(u, val);
}

void
weir__opts_help(FILE *f, const cli_usage *u)
{
	fprintf(f, "usage: %s\n\n%s\n\noptions:\n", u->synopsis, u->about);
	for (size_t i = 0; u->opts[i].name != NULL; i++) {
		const cli_opt *o = &u->opts[i];
		char           head[64];
		snprintf(head, sizeof head, "%c%c%s--%s%s%s",
		    o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
		    o->letter ? ", " : "  ", o->name, o->arg ? " " : "",
		    o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", head, o->help);
	}
	fprintf(f, "  %-28s %s\n\n%s", "-h, --help", "this help",
	    weir__cli_exit_help);
}

int
weir__opts_usage_error(const cli_usage *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "weir: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(
	    stderr, "\nusage: %s\n(--help for the options)\n", u->synopsis);
	return CLI_EXIT_USAGE;
}

int
weir__opts_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno                = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}

int
weir__opts_double(const char *s, double *out)
{
	char *end;
	if (*s == '\0')
		return -1;
	errno    = 0;
	double v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int
weir__opts_seconds(const char *s, double *out)
{
	double v;
	if (weir__opts_double(s, &v) != 0 || v < 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

int64_t
weir__opts_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Seconds to unix nanoseconds, refusing what int64 cannot hold (past
 * 2262-04-11 or before 1677-09-21): the product used to overflow into a
 * negative time that matched nothing. */
static int
opts_secs_ns(double secs, int64_t *ns)
{
	if (!(secs > -OPTS_MAX_S && secs < OPTS_MAX_S))
		return -1;
	*ns = (int64_t) (secs * 1e9);
	return 0;
}

/* "-30s", "-10m", "-2h", "-1d": now minus that. */
static int
opts_time_relative(const char *s, int64_t *ns)
{
	char  *end;
	double v = strtod(s + 1, &end);
	double unit;
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	int64_t ago;
	if (end == s + 1 || end[1] != '\0' || !(v >= 0) ||
	    opts_secs_ns(v * unit, &ago) != 0)
		return -1;
	*ns = weir__opts_now_ns() - ago;
	return 0;
}

/* The fraction and zone of an RFC 3339 time after the seconds. */
static int
opts_time_tail(const char *p, int64_t *frac_ns, int64_t *off_s)
{
	*frac_ns = 0;
	*off_s   = 0;
	if (*p == '.') {
		int64_t scale = 100000000;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			*frac_ns += (*p - '0') * scale;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	int hh, mm, n = 0;
	if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) == 2 &&
	    p[1 + n] == '\0') {
		*off_s = (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
		return 0;
	}
	return -1;
}

int
weir__opts_time(const char *s, int64_t *ns)
{
	double v;
	if (*s == '\0')
		return -1;
	if (*s == '-')
		return opts_time_relative(s, ns);
	if (weir__opts_double(s, &v) == 0 && v >= 0)
		return opts_secs_ns(v, ns);
	struct tm tm = { 0 };
	int       n  = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
	        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	int64_t frac, off;
	if (opts_time_tail(s + n, &frac, &off) != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t secs = (int64_t) timegm(&tm) - off;
	if (secs <= -OPTS_MAX_S || secs >= OPTS_MAX_S)
		return -1;
	*ns = secs * 1000000000 + frac; /* exact, unlike a double */
	return 0;
}
