// Design notes. Lines are handled as they are read; the events of one
// pass of the poll loop form a batch that is appended to the store
// without waiting (WEIR_STORE_APPEND_NOWAIT), then committed together by
// weir_store_flush(): one group commit per pass, not one per line. Only
// after the commit is an event published on the bus (for the routes)
// and acknowledged to its client, so an acked event is in the store.
// A line that is refused is reported at once and never enters a batch;
// with --on-error=stop the gateway reads nothing more, but the batch in
// hand (lines accepted before the bad one) is still committed and acked.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "cli/jtext.h"
#include "cli/ndjson.h"
#include "cli/sock.h"

gw_conn *
weir__gw_conn_new(gateway *gw, int fd, int out_fd)
{
	gw_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->fd     = fd;
	c->out_fd = out_fd;
	c->id     = fd == 0 ? 0 : ++gw->next_id;
	return c;
}

void
weir__gw_conn_free(gw_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd > 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

static void
gw_where(const gw_conn *c, uint64_t line, char *buf, size_t size)
{
	if (c->id == 0)
		snprintf(
		    buf, size, "stdin line %llu", (unsigned long long) line);
	else
		snprintf(buf, size, "client %d line %llu", c->id,
		    (unsigned long long) line);
}

/* One ack line, when --ack asked for them. */
static void
gw_ack(gateway *gw, gw_conn *c, uint64_t line, json_t *o)
{
	if (!gw->ack || o == NULL) {
		json_decref(o);
		return;
	}
	json_object_set_new(o, "line", json_integer((json_int_t) line));
	char *text = weir__jtext(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return;
	size_t n   = strlen(text);
	text[n]    = '\n';
	int failed = weir__sock_write_all(c->out_fd, text, n + 1);
	int why    = errno;
	free(text);
	if (failed && c->id != 0) {
		c->eof = 1; /* the client went away: stop reading it */
	} else if (failed && !gw->ack_error) {
		/* stdout: the events are stored, but whoever asked for acks
		 * has none; said once, and the exit code is 1 */
		fprintf(stderr, "weir: cannot write acks to stdout: %s\n",
		    strerror(why));
		gw->ack_error = 1;
	}
}

static void
gw_refuse(gateway *gw, gw_conn *c, const char *field, const char *why)
{
	char where[64];
	gw_where(c, c->line, where, sizeof where);
	if (field[0] != '\0')
		fprintf(
		    stderr, "weir: %s: field '%s': %s\n", where, field, why);
	else
		fprintf(stderr, "weir: %s: %s\n", where, why);
	gw_ack(gw, c, c->line,
	    json_pack("{s:b,s:s,s:s}", "ok", 0, "field", field, "error", why));
	gw->rejected++;
	gw->input_error = 1;
	if (gw->on_error_stop)
		gw->stop = 1;
}

static void
gw_done(weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	gw_item *it = arg;
	(void) st;
	(void) version;
	it->err = err;
	it->seq = seq;
}

static void
gw_line(gateway *gw, gw_conn *c, char *line, size_t len)
{
	ndjson_err err;
	c->line++;
	gw->lines++;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return; /* blank lines are not events (both callers check stop)
		         */
	gw_item *it = &gw->batch[gw->nbatch];
	memset(it, 0, sizeof *it);
	if (weir__ndjson_parse(line, len, &it->ev, &it->stream, &err) != 0) {
		gw_refuse(gw, c, err.field, err.text);
		return;
	}
	it->conn = c;
	it->line = c->line;
	gw->nbatch++;
	if (gw->nbatch == GW_BATCH)
		weir__gw_commit(gw);
}

static void
gw_append(gateway *gw, gw_item *it)
{
	weir_store_append_opts o = WEIR_STRUCT_INIT(weir_store_append_opts);
	o.stream                 = it->stream;
	o.flags                  = WEIR_STORE_APPEND_NOWAIT;
	o.done                   = gw_done;
	o.arg                    = it;
	it->err                  = WEIR_OK;
	weir_err e = weir_store_append(gw->st, it->ev, &o, NULL, NULL);
	if (e != WEIR_OK)
		it->err = e; /* done will not be called */
}

/* After the commit: hand the event to the routes and answer. */
static void
gw_finish(gateway *gw, gw_item *it)
{
	if (it->err == WEIR_OK && gw->br != NULL) {
		weir_err e = weir_publish_event(gw->bus, it->ev);
		if (e != WEIR_OK && gw->st == NULL)
			it->err = e; /* direct mode: not taken at all */
		else if (e != WEIR_OK)
			fprintf(stderr,
			    "weir: publish: %s (the event is stored; the "
			    "routes find it in the store)\n",
			    weir_strerror(e));
	}
	if (it->err != WEIR_OK) {
		char where[64];
		gw->failed++;
		gw->store_error = 1;
		if (gw->on_error_stop)
			gw->stop = 1;
		gw_where(it->conn, it->line, where, sizeof where);
		fprintf(stderr, "weir: %s: not stored: %s\n", where,
		    gw->st ? weir_store_errmsg(gw->st)
		           : weir_strerror(it->err));
		gw_ack(gw, it->conn, it->line,
		    json_pack("{s:b,s:s,s:s}", "ok", 0, "field", "", "error",
		        weir_strerror(it->err)));
		return;
	}
	char id[37];
	weir_uuid_format(weir_event_id(it->ev), id);
	gw->accepted++;
	weir__gw_count_topic(gw, weir_event_topic(it->ev));
	gw_ack(gw, it->conn, it->line,
	    json_pack("{s:b,s:I,s:s}", "ok", 1, "seq", (json_int_t) it->seq,
	        "id", id));
}

void
weir__gw_commit(gateway *gw)
{
	if (gw->nbatch == 0)
		return;
	if (gw->st != NULL) {
		for (size_t i = 0; i < gw->nbatch; i++)
			gw_append(gw, &gw->batch[i]);
		weir_store_flush(gw->st);
	}
	for (size_t i = 0; i < gw->nbatch; i++) {
		gw_item *it = &gw->batch[i];
		gw_finish(gw, it);
		weir_event_release(it->ev);
		free(it->stream);
	}
	gw->nbatch = 0;
}

/* Handles every complete line in c->buf; keeps the partial rest. */
static void
gw_lines(gateway *gw, gw_conn *c)
{
	size_t start = 0;
	char  *nl;
	while (!gw->stop &&
	    (nl = memchr(c->buf + start, '\n', c->len - start)) != NULL) {
		size_t end = (size_t) (nl - c->buf);
		if (c->skipping)
			c->skipping = 0; /* the end of a refused long line */
		else
			gw_line(gw, c, c->buf + start, end - start);
		start = end + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len >= GW_MAX_LINE) {
		c->line++;
		gw->lines++;
		gw_refuse(gw, c, "", "line longer than 16 MiB");
		c->skipping = 1;
		c->len      = 0;
	}
}

static int
gw_grow(gw_conn *c)
{
	if (c->cap - c->len >= 65536)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : 131072;
	char  *buf = realloc(c->buf, cap);
	if (buf == NULL)
		return -1;
	c->buf = buf;
	c->cap = cap;
	return 0;
}

/* An input that ends on an error, not at its end: said, and the exit
 * code is 1 (before, it ended as if at EOF, and the gateway exited 0). */
static int
gw_read_failed(gateway *gw, gw_conn *c, const char *why)
{
	char where[64];
	gw_where(c, c->line + 1, where, sizeof where);
	fprintf(stderr, "weir: %s: cannot read: %s\n", where, why);
	gw->read_error = 1;
	c->eof         = 1;
	return -1;
}

int
weir__gw_conn_read(gateway *gw, gw_conn *c)
{
	if (gw_grow(c) != 0)
		return gw_read_failed(gw, c, "out of memory");
	ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		return gw_read_failed(gw, c, strerror(errno));
	if (n > 0) {
		c->len += (size_t) n;
		gw_lines(gw, c);
		return c->eof ? -1 : 0;
	}
	/* End of input: a last line without a newline is still a line. */
	if (c->len > 0 && !c->skipping && !gw->stop)
		gw_line(gw, c, c->buf, c->len);
	c->len = 0;
	c->eof = 1;
	return -1;
}
