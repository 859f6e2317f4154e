/*
 * The `mem` backend: a broker in memory. publish() queues the message;
 * poll() answers the queue in order, recording what it acknowledges (and
 * appending "<uuid> <seq>\n" to the file named by "mem.record_path", if
 * set, before the acknowledgement: a process killed afterwards has the
 * record). It is the reference implementation of backend.h and the
 * relay's test double, with faults to inject (bridge/mem.h). It talks
 * to no broker and never de-duplicates: tests count duplicates.
 *
 * With "mem.ordered" = "1" it promises WEIR_BACKEND_CAP_ORDERED and keeps
 * it as Kafka's idempotent producer does: a retriable failure of seq S
 * of a key also fails the later messages of that key it holds, and
 * every later one published until S is published again (counted in
 * out_of_order: a relay that keeps a retry first publishes none).
 */
#include "bridge/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

#define MEM_POISON 64 /* keys with a failure outstanding (tests use few) */

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
	int             ordered;
	size_t          max_key_pending;
	weir__mem_rec   poison[MEM_POISON]; /* keys with a failed seq */
	size_t          npoison;
	uint64_t        out_of_order;
	char            err[160]; /* why init failed; empty: no memory */
} mem_state;

static int
mem_same_key(const weir__mem_rec *a, const weir__mem_rec *b)
{
	return a->key_len == b->key_len && strcmp(a->key, b->key) == 0 &&
	    strcmp(a->dest, b->dest) == 0;
}

/* The failed record of @p r's key, or NULL. */
static weir__mem_rec *
mem_poisoned(mem_state *m, const weir__mem_rec *r)
{
	for (size_t i = 0; i < m->npoison; i++)
		if (mem_same_key(&m->poison[i], r))
			return &m->poison[i];
	return NULL;
}

static weir_err
mem_init(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	mem_state *m = state;
	pthread_mutex_init(&m->lock, NULL);
	m->sink          = sink;
	m->fd            = -1;
	const char *ord  = weir_bridge_config_get(cfg, "mem.ordered");
	m->ordered       = ord != NULL && strcmp(ord, "1") == 0;
	const char *path = weir_bridge_config_get(cfg, "mem.record_path");
	if (path != NULL &&
	    (m->fd = open(
	         path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		snprintf(m->err, sizeof m->err,
		    "mem: cannot open mem.record_path '%.64s': %s", path,
		    strerror(errno));
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

/* Counts @p q's key among the unanswered; in ordered mode, fails it if
 * it comes after a failed seq of its key, or lifts the failure when it
 * is that seq again. */
static void
mem_order(mem_state *m, mem_msg *q)
{
	size_t same = 0;
	for (size_t i = 0; i < m->nq; i++)
		same += mem_same_key(&m->q[i].rec, &q->rec);
	if (same > m->max_key_pending)
		m->max_key_pending = same;
	weir__mem_rec *p = m->ordered ? mem_poisoned(m, &q->rec) : NULL;
	if (p == NULL)
		return;
	if (q->rec.seq <= p->seq) {
		*p = m->poison[--m->npoison];
	} else if (!q->fail) {
		q->fail = 1;
		q->reason =
		    weir__strdup("mem: after a failed message of its key");
		m->out_of_order++;
	}
}

/* Ordered mode: @p q failed retriably; its key's later messages that
 * are still queued fail too, and so will those published after. */
static void
mem_poison_key(mem_state *m, size_t at)
{
	mem_msg *q = &m->q[at];
	if (!m->ordered || mem_poisoned(m, &q->rec) != NULL ||
	    m->npoison == MEM_POISON)
		return;
	m->poison[m->npoison++] = q->rec;
	for (size_t i = at + 1; i < m->nq; i++)
		if (!m->q[i].fail && mem_same_key(&m->q[i].rec, &q->rec)) {
			m->q[i].fail   = 1;
			m->q[i].reason = weir__strdup(
			    "mem: after a failed message of its key");
		}
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
	mem_order(m, q);
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
		if (q->fail == 1)
			mem_poison_key(m, i);
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
	const mem_state *m = state;
	return m->err[0] != '\0' ? m->err : "mem: no memory";
}

static uint32_t
mem_caps(void *state)
{
	mem_state *m = state;
	return m->ordered ? WEIR_BACKEND_CAP_ORDERED : 0;
}

static const weir_backend_ops mem_ops = { .version = WEIR_BACKEND_V2,
	.scheme                                    = "mem",
	.state_size                                = sizeof(mem_state),
	.init                                      = mem_init,
	.fini                                      = mem_fini,
	.start                                     = mem_start,
	.stop                                      = mem_stop,
	.publish                                   = mem_publish,
	.poll                                      = mem_poll,
	.errmsg                                    = mem_errmsg,
	.caps                                      = mem_caps };

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
MEM_GET(size_t, weir__mem_max_key_pending, max_key_pending)
MEM_GET(uint64_t, weir__mem_out_of_order, out_of_order)

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
