// Design notes. Debian's libinih is built without INI_HANDLER_LINENO,
// so the handler is not told the line number; the file is read through
// ini_parse_stream with a reader of our own that counts the lines it
// hands out: when the handler runs, the count is the line of the entry.
// A line longer than inih's buffer would be split by inih into two
// "lines"; the reader refuses it instead, and a line holding a NUL byte
// (which inih would cut short).
#include "cli/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cfg_read {
	cli_config *c;
	FILE       *f;
	int         line;
	int         too_long;
	int         nul;
	int         failed;
} cfg_read;

__attribute__((format(printf, 2, 3))) static int
cfg_fail(cfg_read *r, const char *fmt, ...)
{
	va_list ap;
	int     n = snprintf(
	        r->c->err, sizeof r->c->err, "%s:%d: ", r->c->file, r->line);
	va_start(ap, fmt);
	vsnprintf(r->c->err + n, sizeof r->c->err - (size_t) n, fmt, ap);
	va_end(ap);
	r->failed = 1;
	return 0; /* inih: stop at the first error */
}

/* inih's reader: one line into @p str, counted. Read byte by byte, not
 * with fgets, because a line may hold a NUL: inih would stop at it and
 * drop the rest of the line, and a NUL in a line longer than the buffer
 * would hide its length, so its tail would be read as a line of its
 * own. Both are refused: the line is counted, the read stops. */
static char *
cfg_reader(char *str, int num, void *stream)
{
	cfg_read *r  = stream;
	size_t    n  = 0;
	int       ch = EOF;
	if (r->failed)
		return NULL;
	while (n + 1 < (size_t) num && (ch = getc(r->f)) != EOF) {
		str[n++] = (char) ch;
		if (ch == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	r->line++;
	if (memchr(str, '\0', n) != NULL) {
		r->nul = 1;
		return NULL;
	}
	if (ch != '\n' && ch != EOF && getc(r->f) != EOF) {
		r->too_long = 1;
		return NULL;
	}
	return str;
}

static int
cfg_parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
cfg_parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return -1;
	*out = strtoull(v, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static int
cfg_entry_add(cfg_read *r, const char *key, const char *value)
{
	cli_config *c = r->c;
	cli_entry  *e = realloc(c->entries, (c->nentries + 1) * sizeof *e);
	if (e == NULL)
		return cfg_fail(r, "out of memory");
	c->entries = e;
	e += c->nentries;
	e->key   = strdup(key);
	e->value = strdup(value);
	e->line  = r->line;
	c->nentries++;
	return e->key && e->value ? 1 : cfg_fail(r, "out of memory");
}

/* [bridge], [kafka], [nats], [mem]: the key gets the section's prefix;
 * "bridge." keys are checked at once by the bridge's own config. */
static int
cfg_backend_key(
    cfg_read *r, const char *section, const char *name, const char *value)
{
	char key[256];
	snprintf(key, sizeof key, "%s.%s", section, name);
	if (strcmp(section, "bridge") == 0) {
		weir_bridge_config *bc = NULL;
		weir_err            e  = weir_bridge_config_create(&bc);
		if (e == WEIR_OK)
			e = weir_bridge_config_set_str(bc, key, value);
		weir_bridge_config_destroy(bc);
		if (e == WEIR_ENOMEM)
			return cfg_fail(r, "out of memory");
		if (e != WEIR_OK)
			return cfg_fail(r,
			    "[bridge]: unknown key '%s' (docs/bridge.md "
			    "lists the bridge's keys)",
			    name);
	}
	return cfg_entry_add(r, key, value);
}

static int
cfg_store_key(cfg_read *r, const char *name, const char *value)
{
	cli_config *c = r->c;
	uint64_t    n;
	if (strcmp(name, "path") == 0) {
		free(c->store_path);
		c->store_path = strdup(value);
		c->store_line = r->line;
		if (c->store_path == NULL)
			return cfg_fail(r, "out of memory");
	} else if (strcmp(name, "durability") == 0) {
		if (strcmp(value, "full") && strcmp(value, "normal"))
			return cfg_fail(r,
			    "[store] durability: '%s' is not full or normal",
			    value);
		c->durability = strcmp(value, "full") == 0
		    ? WEIR_STORE_DURABILITY_FULL
		    : WEIR_STORE_DURABILITY_NORMAL;
	} else if (strcmp(name, "max_event") == 0) {
		if (cfg_parse_u64(value, &n) != 0 || n == 0)
			return cfg_fail(r,
			    "[store] max_event: '%s' is not a positive "
			    "number of bytes",
			    value);
		c->max_event = (size_t) n;
	} else {
		return cfg_fail(r, "[store]: unknown key '%s'", name);
	}
	return 1;
}

static cli_route *
cfg_route(cfg_read *r, const char *name)
{
	cli_config *c = r->c;
	for (size_t i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			return &c->routes[i];
	cli_route *rt = realloc(c->routes, (c->nroutes + 1) * sizeof *rt);
	if (rt == NULL)
		return NULL;
	c->routes = rt;
	rt += c->nroutes++;
	memset(rt, 0, sizeof *rt);
	rt->opts.size = sizeof rt->opts;
	rt->name      = strdup(name);
	rt->line      = r->line;
	return rt->name != NULL ? rt : NULL;
}

static int
cfg_route_str(cfg_read *r, cli_route *rt, const char *name, const char *v)
{
	char **slot = !strcmp(name, "pattern") ? &rt->pattern
	    : !strcmp(name, "scheme")          ? &rt->scheme
	    : !strcmp(name, "dest")            ? &rt->dest
	    : !strcmp(name, "key")             ? &rt->key
	                                       : NULL;
	if (slot == NULL)
		return cfg_fail(
		    r, "[route %s]: unknown key '%s'", rt->name, name);
	free(*slot);
	*slot = strdup(v);
	return *slot != NULL ? 1 : cfg_fail(r, "out of memory");
}

static int
cfg_route_key(cfg_read *r, const char *route, const char *name, const char *v)
{
	cli_route *rt = cfg_route(r, route);
	uint64_t   n;
	if (rt == NULL)
		return cfg_fail(r, "out of memory");
	if (strcmp(name, "direct") == 0) {
		if (cfg_parse_bool(v, &rt->opts.direct) != 0)
			return cfg_fail(r,
			    "[route %s] direct: '%s' is not true or false",
			    route, v);
		return 1;
	}
	if (strcmp(name, "window") && strcmp(name, "max_backlog") &&
	    strcmp(name, "max_attempts"))
		return cfg_route_str(r, rt, name, v);
	if (cfg_parse_u64(v, &n) != 0 || n == 0 || n > UINT32_MAX)
		return cfg_fail(r,
		    "[route %s] %s: '%s' is not a number from "
		    "1 to 4294967295",
		    route, name, v);
	if (strcmp(name, "window") == 0)
		rt->opts.window = (uint32_t) n;
	else if (strcmp(name, "max_backlog") == 0)
		rt->opts.max_backlog = n;
	else
		rt->opts.max_attempts = (uint32_t) n;
	return 1;
}

static int
cfg_handler(
    void *user, const char *section, const char *name, const char *value)
{
	cfg_read   *r = user;
	cli_config *c = r->c;
	if (strcmp(section, "store") == 0)
		return cfg_store_key(r, name, value);
	if (strncmp(section, "route ", 6) == 0 && section[6] != '\0')
		return cfg_route_key(r, section + 6, name, value);
	if (strcmp(section, "kafka") == 0 && c->kafka_line == 0)
		c->kafka_line = r->line;
	if (strcmp(section, "nats") == 0 && c->nats_line == 0)
		c->nats_line = r->line;
	if (!strcmp(section, "bridge") || !strcmp(section, "kafka") ||
	    !strcmp(section, "nats") || !strcmp(section, "mem"))
		return cfg_backend_key(r, section, name, value);
	if (section[0] == '\0')
		return cfg_fail(r, "key '%s' outside a section", name);
	return cfg_fail(r,
	    "unknown section [%s] (store, bridge, kafka, nats, mem, "
	    "route NAME)",
	    section);
}

/* After reading: every route has its mandatory keys. */
static int
cfg_check_routes(cli_config *c)
{
	for (size_t i = 0; i < c->nroutes; i++) {
		cli_route  *rt   = &c->routes[i];
		const char *miss = rt->pattern == NULL ? "pattern"
		    : rt->scheme == NULL               ? "scheme"
		    : rt->dest == NULL                 ? "dest"
		                                       : NULL;
		if (miss != NULL) {
			snprintf(c->err, sizeof c->err,
			    "%s:%d: [route %s]: '%s' is missing", c->file,
			    rt->line, rt->name, miss);
			return -1;
		}
	}
	return 0;
}

int
weir__config_load(cli_config *c, const char *file)
{
	memset(c, 0, sizeof *c);
	c->file       = file;
	c->durability = -1;
	cfg_read r    = { .c = c, .f = fopen(file, "r") };
	if (r.f == NULL) {
		snprintf(c->err, sizeof c->err, "%s: cannot open: %s", file,
		    strerror(errno));
		return -1;
	}
	int rv = ini_parse_stream(cfg_reader, &r, cfg_handler, &r);
	fclose(r.f);
	if (r.too_long) {
		snprintf(c->err, sizeof c->err, "%s:%d: line too long", file,
		    r.line);
		return -1;
	}
	if (r.nul) {
		snprintf(c->err, sizeof c->err,
		    "%s:%d: a NUL byte in the line", file, r.line);
		return -1;
	}
	if (r.failed)
		return -1;
	if (rv != 0) {
		snprintf(c->err, sizeof c->err,
		    "%s:%d: not an INI line ([section], key = value, "
		    "; comment)",
		    file, rv > 0 ? rv : r.line);
		return -1;
	}
	return cfg_check_routes(c);
}

void
weir__config_free(cli_config *c)
{
	for (size_t i = 0; i < c->nentries; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		cli_route *rt = &c->routes[i];
		free(rt->name);
		free(rt->pattern);
		free(rt->scheme);
		free(rt->dest);
		free(rt->key);
	}
	free(c->entries);
	free(c->routes);
	free(c->store_path);
	memset(c, 0, sizeof *c);
}

const cli_entry *
weir__config_blame(const cli_config *c, const char *text)
{
	const cli_entry *best = NULL;
	for (size_t i = 0; i < c->nentries; i++) {
		const char *k = c->entries[i].key;
		/* the longest key mentioned wins (kafka.acks vs kafka.ack...)
		 */
		if (strstr(text, k) != NULL &&
		    (best == NULL || strlen(k) > strlen(best->key)))
			best = &c->entries[i];
	}
	return best;
}
