/*
 * The `mem` source: a broker in memory for inbound routes, and their
 * test double. Tests push messages (bridge/mem_source.h); fetch hands
 * them to the inlet in order; done records the token (and appends
 * "<token>\n" to the file named by "mem.done_path", if set: a process
 * killed afterwards has the record). A message the inlet refuses stays
 * queued, as a broker keeps what was not committed.
 */
#include "bridge/mem_source.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

/* One queued message with its own copies of every buffer. */
typedef struct msrc_msg {
	weir_inbound_msg msg;
	weir_header     *hdrs;
	char           **bufs; /* every allocation, freed together */
	size_t           nbufs;
} msrc_msg;

typedef struct msrc_state {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	weir_inlet     *inlet;
	int             fd;
	msrc_msg       *q;
	size_t          head, count, cap;
	msrc_msg        retry; /* refused by the inlet, delivered first */
	int             has_retry;
	uint64_t       *done;
	size_t          ndone, capdone;
	uint64_t        delivered; /* taken by the inlet */
	uint64_t        max_undone, pauses, idle;
	int             paused;
} msrc_state;

static weir_err
msrc_init(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet)
{
	(void) spec;
	msrc_state *m = state;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->inlet         = inlet;
	m->fd            = -1;
	const char *path = weir_bridge_config_get(cfg, "mem.done_path");
	if (path != NULL &&
	    (m->fd = open(
	         path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->cond);
		return WEIR_EIO;
	}
	return WEIR_OK;
}

static void
msrc_free_msg(msrc_msg *q)
{
	for (size_t i = 0; i < q->nbufs; i++)
		weir__free(q->bufs[i]);
	weir__free(q->bufs);
	weir__free(q->hdrs);
}

static void
msrc_fini(void *state)
{
	msrc_state *m = state;
	for (size_t i = 0; i < m->count; i++)
		msrc_free_msg(&m->q[(m->head + i) % m->cap]);
	if (m->has_retry)
		msrc_free_msg(&m->retry);
	weir__free(m->q);
	weir__free(m->done);
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
}

static weir_err
msrc_start(void *state)
{
	(void) state;
	return WEIR_OK;
}

static void
msrc_stop(void *state)
{
	(void) state;
}

/* Waits up to @p ms for a queued message; called with the lock. */
static void
msrc_wait(msrc_state *m, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long) ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	while (m->count == 0)
		if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) != 0)
			break;
}

/* Takes the next message out of the queue (the refused one first). */
static int
msrc_pop(msrc_state *m, msrc_msg *out)
{
	if (m->has_retry) {
		*out         = m->retry;
		m->has_retry = 0;
		return 1;
	}
	if (m->count == 0)
		return 0;
	*out    = m->q[m->head];
	m->head = (m->head + 1) % m->cap;
	m->count--;
	return 1;
}

static weir_err
msrc_fetch(void *state, size_t max, int timeout_ms)
{
	msrc_state *m = state;
	msrc_msg    q;
	pthread_mutex_lock(&m->lock);
	if (max == 0) {
		m->idle++;
		pthread_mutex_unlock(&m->lock);
		return WEIR_OK;
	}
	if (!m->has_retry)
		msrc_wait(m, timeout_ms);
	for (size_t n = 0; n < max && msrc_pop(m, &q); n++) {
		pthread_mutex_unlock(&m->lock); /* the inlet may call done */
		weir_err e = weir_inlet_deliver(m->inlet, &q.msg);
		pthread_mutex_lock(&m->lock);
		if (e != WEIR_OK) { /* kept: "redelivered" by a later fetch */
			m->retry     = q;
			m->has_retry = 1;
			break;
		}
		msrc_free_msg(&q);
		m->delivered++;
		if (m->delivered - m->ndone > m->max_undone)
			m->max_undone = m->delivered - m->ndone;
	}
	pthread_mutex_unlock(&m->lock);
	return WEIR_OK;
}

static void
msrc_done(void *state, uint64_t token)
{
	msrc_state *m = state;
	pthread_mutex_lock(&m->lock);
	if (m->ndone == m->capdone) {
		size_t    cap = m->capdone ? m->capdone * 2 : 1024;
		uint64_t *nd  = weir__realloc(m->done, cap * sizeof *nd);
		if (nd != NULL) {
			m->done    = nd;
			m->capdone = cap;
		}
	}
	if (m->ndone < m->capdone)
		m->done[m->ndone++] = token;
	if (m->fd >= 0) {
		char line[32];
		int  n = snprintf(
		     line, sizeof line, "%llu\n", (unsigned long long) token);
		if (write(m->fd, line, (size_t) n) < 0)
			perror("mem source: done record");
	}
	pthread_mutex_unlock(&m->lock);
}

static void
msrc_pause(void *state, int paused)
{
	msrc_state *m = state;
	pthread_mutex_lock(&m->lock);
	m->paused = paused;
	m->pauses += paused != 0;
	pthread_mutex_unlock(&m->lock);
}

static const char *
msrc_errmsg(void *state)
{
	(void) state;
	return "mem source: no memory";
}

static const weir_source_ops msrc_ops = { .version = WEIR_SOURCE_V1,
	.scheme                                    = "mem",
	.state_size                                = sizeof(msrc_state),
	.init                                      = msrc_init,
	.fini                                      = msrc_fini,
	.start                                     = msrc_start,
	.stop                                      = msrc_stop,
	.fetch                                     = msrc_fetch,
	.done                                      = msrc_done,
	.pause                                     = msrc_pause,
	.errmsg                                    = msrc_errmsg };

const weir_source_ops *
weir_source_mem(void)
{
	return &msrc_ops;
}

/* ---- test controls ---------------------------------------------------- */

/* A copy of @p len bytes of @p p (a NUL added), kept in @p q. */
static const void *
msrc_copy(msrc_msg *q, const void *p, size_t len)
{
	if (p == NULL)
		return NULL;
	char *c = weir__alloc(len + 1);
	if (c == NULL)
		return NULL;
	memcpy(c, p, len);
	c[len]              = '\0';
	q->bufs[q->nbufs++] = c;
	return c;
}

/* 1 if the copy of @p p, made as @p c, is missing (no memory). */
static int
msrc_lost(const void *p, const void *c)
{
	return p != NULL && c == NULL;
}

static weir_err
msrc_clone(msrc_msg *q, const weir_inbound_msg *msg)
{
	size_t nb = 4 + 2 * msg->header_count;
	memset(q, 0, sizeof *q);
	q->msg  = *msg;
	q->bufs = weir__zalloc(nb * sizeof *q->bufs);
	q->hdrs = weir__zalloc((msg->header_count + 1) * sizeof *q->hdrs);
	if (q->bufs == NULL || q->hdrs == NULL)
		return WEIR_ENOMEM;
	q->msg.origin =
	    msrc_copy(q, msg->origin, msg->origin ? strlen(msg->origin) : 0);
	q->msg.key     = msrc_copy(q, msg->key, msg->key_len);
	q->msg.payload = msrc_copy(q, msg->payload, msg->payload_len);
	q->msg.coord =
	    msrc_copy(q, msg->coord, msg->coord ? strlen(msg->coord) : 0);
	int lost = msrc_lost(msg->origin, q->msg.origin) ||
	    msrc_lost(msg->key, q->msg.key) ||
	    msrc_lost(msg->payload, q->msg.payload) ||
	    msrc_lost(msg->coord, q->msg.coord);
	for (size_t i = 0; i < msg->header_count && !lost; i++) {
		const weir_header *h = &msg->headers[i];
		q->hdrs[i].name      = msrc_copy(q, h->name, strlen(h->name));
		q->hdrs[i].value     = msrc_copy(q, h->value, h->len);
		q->hdrs[i].len       = h->len;
		lost                 = q->hdrs[i].name == NULL ||
		    msrc_lost(h->value, q->hdrs[i].value);
	}
	q->msg.headers = q->hdrs;
	return lost ? WEIR_ENOMEM : WEIR_OK;
}

weir_err
weir__mem_source_push(void *state, const weir_inbound_msg *msg)
{
	msrc_state *m = state;
	msrc_msg    q;
	if (msrc_clone(&q, msg) != WEIR_OK) {
		msrc_free_msg(&q);
		return WEIR_ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	if (m->count == m->cap) {
		size_t    cap = m->cap ? m->cap * 2 : 64;
		msrc_msg *nq  = weir__alloc(cap * sizeof *nq);
		if (nq == NULL) {
			pthread_mutex_unlock(&m->lock);
			msrc_free_msg(&q);
			return WEIR_ENOMEM;
		}
		for (size_t i = 0; i < m->count; i++)
			nq[i] = m->q[(m->head + i) % m->cap];
		weir__free(m->q);
		m->q    = nq;
		m->cap  = cap;
		m->head = 0;
	}
	m->q[(m->head + m->count++) % m->cap] = q;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return WEIR_OK;
}

size_t
weir__mem_source_done(void *state, uint64_t *out, size_t max)
{
	msrc_state *m = state;
	pthread_mutex_lock(&m->lock);
	size_t n = m->ndone;
	if (out != NULL)
		memcpy(out, m->done, (n < max ? n : max) * sizeof *out);
	pthread_mutex_unlock(&m->lock);
	return n;
}

#define MSRC_GET(type, name, field)             \
	type name(void *state)                  \
	{                                       \
		msrc_state *m = state;          \
		pthread_mutex_lock(&m->lock);   \
		type v = (type) m->field;       \
		pthread_mutex_unlock(&m->lock); \
		return v;                       \
	}
size_t
weir__mem_source_queued(void *state)
{
	msrc_state *m = state;
	pthread_mutex_lock(&m->lock);
	size_t n = m->count + (size_t) m->has_retry;
	pthread_mutex_unlock(&m->lock);
	return n;
}

MSRC_GET(int, weir__mem_source_paused, paused)
MSRC_GET(uint64_t, weir__mem_source_pauses, pauses)
MSRC_GET(uint64_t, weir__mem_source_max_undone, max_undone)
MSRC_GET(uint64_t, weir__mem_source_idle_fetches, idle)
