/*
 * The `mem` backend: a broker in memory. publish() queues the message;
 * poll() answers the queue in order, recording what it acknowledges (and
 * appending "<uuid> <seq>\n" to the file named by "mem.record_path", if
 * set, before the acknowledgement: a process killed afterwards has the
 * record). It is the reference implementation of backend.h and the
 * relay's test double, with faults to inject (bridge/mem.h). It talks
 * to no broker and never de-duplicates: tests count duplicates.
 */
#include "bridge/mem.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

typedef struct mem_msg {
	weir__mem_rec rec;
	uint64_t      token;
	int           fail; /* 0, 1 retriable, 2 permanent */
	int           drop;
	char         *reason;
} mem_msg;

typedef struct mem_state {
	pthread_mutex_t lock;
	weir_sink      *sink;
	int             fd;
	mem_msg        *q; /* waiting for poll */
	size_t          nq, capq;
	weir__mem_rec  *recs;
	size_t          nrecs, caprecs;
	uint64_t        publishes, calls;
	size_t          max_pending;
	uint64_t        fail_at; /* call number; 0: none */
	int             fail_retriable;
	char           *fail_reason;
	uint64_t        drop;
	int             hold, down;
} mem_state;

static weir_err
mem_init(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	mem_state *m = state;
	pthread_mutex_init(&m->lock, NULL);
	m->sink          = sink;
	m->fd            = -1;
	const char *path = weir_bridge_config_get(cfg, "mem.record_path");
	if (path != NULL &&
	    (m->fd = open(
	         path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		pthread_mutex_destroy(&m->lock);
		return WEIR_EIO;
	}
	return WEIR_OK;
}

static void
mem_fini(void *state)
{
	mem_state *m = state;
	for (size_t i = 0; i < m->nq; i++)
		weir__free(m->q[i].reason);
	weir__free(m->q);
	weir__free(m->recs);
	weir__free(m->fail_reason);
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
}

static weir_err
mem_start(void *state)
{
	(void) state;
	return WEIR_OK;
}

/* Answers nothing more: what is queued stays unanswered (as with a
 * connection that closed), and the bridge re-sends it after a start. */
static void
mem_stop(void *state)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nq; i++)
		weir__free(m->q[i].reason);
	m->nq = 0;
	pthread_mutex_unlock(&m->lock);
}

static void
mem_fill(weir__mem_rec *r, const weir_bridge_msg *msg)
{
	memcpy(r->id, weir_event_id(msg->ev), 16);
	r->seq = msg->seq;
	snprintf(r->dest, sizeof r->dest, "%s", msg->dest);
	r->key_len = msg->key_len;
	size_t n   = msg->key_len < sizeof r->key - 1 ? msg->key_len
	                                              : sizeof r->key - 1;
	if (n > 0)
		memcpy(r->key, msg->key, n);
	r->key[n] = '\0';
}

static weir_err
mem_publish(void *state, const weir_bridge_msg *msg)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	if (m->nq == m->capq) {
		size_t   cap = m->capq ? m->capq * 2 : 256;
		mem_msg *nq  = weir__realloc(m->q, cap * sizeof *nq);
		if (nq == NULL) {
			pthread_mutex_unlock(&m->lock);
			return WEIR_EAGAIN;
		}
		m->q    = nq;
		m->capq = cap;
	}
	mem_msg *q = &m->q[m->nq++];
	memset(q, 0, sizeof *q);
	mem_fill(&q->rec, msg);
	q->token = msg->token;
	m->calls++;
	if (m->down) {
		q->fail   = 1;
		q->reason = weir__strdup("mem: broker down");
	} else if (m->fail_at != 0 && m->calls == m->fail_at) {
		q->fail = m->fail_retriable ? 1 : 2;
		q->reason =
		    m->fail_reason ? weir__strdup(m->fail_reason) : NULL;
		m->fail_at = 0;
	} else if (m->drop > 0) {
		q->drop = 1;
		m->drop--;
	}
	m->publishes++;
	if (m->nq > m->max_pending)
		m->max_pending = m->nq;
	pthread_mutex_unlock(&m->lock);
	return WEIR_OK;
}

static void
mem_record(mem_state *m, const weir__mem_rec *r)
{
	if (m->nrecs == m->caprecs) {
		size_t         cap = m->caprecs ? m->caprecs * 2 : 1024;
		weir__mem_rec *nr  = weir__realloc(m->recs, cap * sizeof *nr);
		if (nr == NULL)
			return;
		m->recs    = nr;
		m->caprecs = cap;
	}
	m->recs[m->nrecs++] = *r;
	if (m->fd >= 0) {
		char line[64];
		weir_uuid_format(r->id, line);
		int n = snprintf(line + 36, sizeof line - 36, " %llu\n",
		    (unsigned long long) r->seq);
		if (write(m->fd, line, 36 + (size_t) n) < 0)
			perror("mem: record");
	}
}

/* Answers the queue in order under the lock, so that records keep the
 * order of publish calls. */
static void
mem_poll(void *state, int timeout_ms)
{
	(void) timeout_ms;
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	if (m->hold) {
		pthread_mutex_unlock(&m->lock);
		return;
	}
	for (size_t i = 0; i < m->nq; i++) {
		mem_msg *q = &m->q[i];
		if (q->fail)
			weir_sink_ack(m->sink, q->token, WEIR_EBACKEND,
			    q->fail == 1, q->reason);
		else if (!q->drop) {
			mem_record(m, &q->rec);
			weir_sink_ack(m->sink, q->token, WEIR_OK, 0, NULL);
		}
		weir__free(q->reason);
	}
	m->nq = 0;
	pthread_mutex_unlock(&m->lock);
}

static const char *
mem_errmsg(void *state)
{
	(void) state;
	return "mem: no memory";
}

static const weir_backend_ops mem_ops = { .version = WEIR_BACKEND_V1,
	.scheme                                    = "mem",
	.state_size                                = sizeof(mem_state),
	.init                                      = mem_init,
	.fini                                      = mem_fini,
	.start                                     = mem_start,
	.stop                                      = mem_stop,
	.publish                                   = mem_publish,
	.poll                                      = mem_poll,
	.errmsg                                    = mem_errmsg };

const weir_backend_ops *
weir_backend_mem(void)
{
	return &mem_ops;
}

size_t
weir__mem_records(void *state, weir__mem_rec *out, size_t max)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	size_t n = m->nrecs;
	if (out != NULL)
		memcpy(out, m->recs, (n < max ? n : max) * sizeof *out);
	pthread_mutex_unlock(&m->lock);
	return n;
}

#define MEM_GET(type, name, field)              \
	type name(void *state)                  \
	{                                       \
		mem_state *m = state;           \
		pthread_mutex_lock(&m->lock);   \
		type v = (type) m->field;       \
		pthread_mutex_unlock(&m->lock); \
		return v;                       \
	}
MEM_GET(uint64_t, weir__mem_publishes, publishes)
MEM_GET(size_t, weir__mem_max_pending, max_pending)
MEM_GET(size_t, weir__mem_pending, nq)

void
weir__mem_fail_nth(void *state, uint64_t n, int retriable, const char *reason)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	m->fail_at        = m->calls + n;
	m->fail_retriable = retriable;
	weir__free(m->fail_reason);
	m->fail_reason = reason ? weir__strdup(reason) : NULL;
	pthread_mutex_unlock(&m->lock);
}

void
weir__mem_drop_acks(void *state, uint64_t count)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	m->drop = count;
	pthread_mutex_unlock(&m->lock);
}

void
weir__mem_hold_acks(void *state, int on)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	m->hold = on;
	pthread_mutex_unlock(&m->lock);
}

void
weir__mem_set_down(void *state, int down)
{
	mem_state *m = state;
	pthread_mutex_lock(&m->lock);
	m->down = down;
	pthread_mutex_unlock(&m->lock);
}
