/*
 * The relay: one thread per route moving events from the store (or the
 * direct-mode ring) to the backend.
 *
 * Design notes. The window is a ring of slots in seq order. A slot is
 * sent when no earlier slot of the same key is still unfinished, so a
 * key never has two messages in flight and its order survives a retry;
 * different keys go out side by side, up to `window` at once. A sink
 * that keeps the order of what it is handed (WEIR_BACKEND_CAP_ORDERED)
 * gets several messages of a key at once: a slot then waits only for
 * an earlier slot of its key that is not in flight (a retry goes
 * first) or that failed before (serial: after a failure the key is back
 * to one in flight until that slot is done). With nothing failed, every
 * slot before `fresh` is in flight or done, so a pass starts there. The
 * cursor moves only past a contiguous run of finished slots at the head,
 * so after a crash the relay re-sends from the first unfinished one: at
 * least once, and the broker drops the duplicates by event id. A
 * retriable failure stops all sending for a backoff delay and feeds the
 * breaker; the failed slot (and any other not acknowledged) is re-sent,
 * in seq order, once sending resumes.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/bridge.h"
#include "bridge/inbound.h"
#include "core/alloc.h"
#include "store/cursor.h"

/* A token: route index + 1 (16 bits), a send counter (32), and the
 * slot's position in the ring (16; window <= 65536), so an ack finds
 * its slot without a search. */
#define RELAY_TOKEN_POS ((UINT64_C(1) << 16) - 1)
#define RELAY_TOKEN_COUNTER UINT64_C(0xffffffff)
/* The longest a due cursor write waits while messages are in flight. */
#define RELAY_CURSOR_MS 100

static weir__slot *
relay_at(weir__route *rt, size_t i)
{
	return &rt->slots[(rt->head + i) % rt->window];
}

static void
relay_dest_drop(weir__dest *d)
{
	if (d != NULL && --d->refs == 0) {
		weir__free(d->topic);
		weir__free(d);
	}
}

static void
relay_slot_clear(weir__slot *s)
{
	weir_event_release(s->ev);
	relay_dest_drop(s->dest);
	memset(s, 0, sizeof *s);
}

/* @p s finished (acknowledged or dead-lettered). */
static void
relay_done(weir__route *rt, weir__slot *s)
{
	if (s->serial) {
		s->serial = 0;
		rt->serials--;
	}
	s->state = WEIR__SLOT_DONE;
	s->token = 0;
}

/*
 * The destination of @p topic, held. Rendering allocated a string per
 * event; a route's events mostly share a topic, so the last rendering
 * is kept and shared by every slot of that topic. NULL: no memory.
 */
static weir__dest *
relay_dest(weir__route *rt, const char *topic)
{
	weir__dest *d = rt->dest_last;
	if (d != NULL && strcmp(d->topic, topic) == 0)
		return d->refs++, d;
	char  *text = weir__template_render(&rt->dest, topic);
	size_t len  = text != NULL ? strlen(text) + 1 : 0;
	d           = text != NULL ? weir__alloc(sizeof *d + len) : NULL;
	if (d != NULL && (d->topic = weir__strdup(topic)) == NULL) {
		weir__free(d);
		d = NULL;
	}
	if (d != NULL) {
		memcpy(d->text, text, len);
		d->refs = 2; /* the caller's and dest_last's */
		relay_dest_drop(rt->dest_last);
		rt->dest_last = d;
	}
	weir__free(text);
	return d;
}

/* FNV-1a over the key bytes. */
static uint64_t
relay_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t             h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(1099511628211);
	return h;
}

/* 1 if @p ev came in from this route's broker and may not go back to
 * it (docs/bridge.md, "No echo"). */
static int
relay_echo(weir__route *rt, const weir_event *ev)
{
	size_t      len;
	const void *from = weir_event_header_get(ev, WEIR__HDR_ORIGIN, &len);
	return from != NULL && !rt->echo &&
	    weir_event_header_get(ev, WEIR__HDR_ECHO, NULL) == NULL &&
	    weir__inbound_same_broker(rt->be->ops->scheme, from, len);
}

/* Puts @p ev (held by the caller's reference) at the tail; on failure
 * the reference stays the caller's. */
static weir_err
relay_push(weir__route *rt, const weir_event *ev, uint64_t seq)
{
	weir__slot *s = relay_at(rt, rt->count);
	memset(s, 0, sizeof *s);
	s->ev  = ev;
	s->seq = seq;
	if (relay_echo(rt, ev)) { /* finished at once: never sent */
		s->state = WEIR__SLOT_DONE;
		atomic_fetch_add(&rt->echoes, 1);
		if (rt->count == 0)
			atomic_store(&rt->oldest_ts, weir_event_ts(ev));
		rt->count++;
		return WEIR_OK;
	}
	if ((s->dest = relay_dest(rt, weir_event_topic(ev))) == NULL) {
		s->ev = NULL; /* the caller keeps its reference on failure */
		return WEIR_ENOMEM;
	}
	weir__keychoice_view(&rt->key, ev, &s->key, &s->key_len);
	s->key_hash = relay_hash(s->key, s->key_len);
	if (rt->count == 0)
		atomic_store(&rt->oldest_ts, weir_event_ts(ev));
	rt->count++;
	return WEIR_OK;
}

static weir_err
relay_read_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	weir__route *rt  = arg;
	uint64_t     seq = weir_event_seq(ev);
	weir_err     e   = relay_push(rt, weir_event_hold(ev), seq);
	if (e != WEIR_OK) {
		weir_event_release(ev);
		return e;
	}
	rt->next_seq = seq + 1;
	return WEIR_OK;
}

/* Fills free slots from the direct-mode ring. */
static void
relay_fill_direct(weir__route *rt, size_t room)
{
	size_t cap = rt->br->direct_capacity;
	pthread_mutex_lock(&rt->lock);
	while (room > 0 && rt->ring_count > 0) {
		const weir_event *ev = rt->ring[rt->ring_head];
		rt->ring_head        = (rt->ring_head + 1) % cap;
		rt->ring_count--;
		room--;
		if (relay_push(rt, ev, ++rt->local_seq) != WEIR_OK) {
			weir_event_release(ev);
			atomic_fetch_add(&rt->dead, 1);
			atomic_fetch_sub(&rt->backlog, 1);
		}
	}
	pthread_mutex_unlock(&rt->lock);
}

/* Pushes events taken from the handoff; on a failure the rest are
 * released (the store still has them: next_seq stops before them). */
static size_t
relay_push_handed(weir__route *rt, weir__handed *h, size_t n)
{
	size_t i = 0;
	for (; i < n; i++) {
		if (relay_push(rt, h[i].ev, h[i].seq) != WEIR_OK)
			break;
		rt->next_seq = h[i].seq + 1;
	}
	for (size_t j = i; j < n; j++)
		weir_event_release(h[j].ev);
	atomic_fetch_add(&rt->from_memory, i);
	return i;
}

/*
 * Takes from the handoff what continues next_seq without a gap. Returns
 * 1 when the store must be read: it holds committed events of the route
 * that the handoff does not (it was full, the route restarted, or
 * another writer put them there). Taking and that check share one hold
 * of the lock, so an event committed in between is seen by both or by
 * neither.
 */
static int
relay_take(weir__route *rt, size_t *room)
{
	weir__handed h[64];
	for (;;) {
		size_t max = *room < 64 ? *room : 64;
		pthread_mutex_lock(&rt->lock);
		size_t n =
		    weir__handoff_take(&rt->handoff, rt->next_seq, h, max);
		int gap = n == max ? 0 : rt->appended >= rt->next_seq + n;
		pthread_mutex_unlock(&rt->lock);
		size_t pushed = relay_push_handed(rt, h, n);
		*room -= pushed;
		if (pushed < n)
			return 1;
		if (n < max || *room == 0)
			return gap;
	}
}

static weir_err
relay_count_read(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	weir__route *rt = arg;
	weir_err     e  = relay_read_fn(st, ev, stream, version, arg);
	if (e == WEIR_OK)
		atomic_fetch_add(&rt->from_store, 1);
	return e;
}

/* Fills free slots: from the handoff, then from the store for what the
 * handoff lacks (store mode), or from the ring (direct mode). */
static void
relay_fill(weir__route *rt, int64_t now)
{
	size_t room = rt->window - rt->count;
	if (room == 0)
		return;
	if (rt->direct) {
		relay_fill_direct(rt, room);
		return;
	}
	int fresh = relay_take(rt, &room);
	if (room == 0)
		return;
	/* A periodic read also finds events other writers put in the log
	 * (under the route's pattern but not through its intake). */
	if (!fresh && now - rt->last_read_ms < 100)
		return;
	rt->last_read_ms    = now;
	weir_store_filter f = WEIR_STRUCT_INIT(weir_store_filter);
	f.from_seq          = rt->next_seq;
	f.pattern           = rt->pattern;
	f.limit             = room;
	weir_store_read(rt->br->store, &f, relay_count_read, rt);
}

/*
 * The slot's event as the store holds it, held: an event from the
 * handoff is the one that was published, whose seq is still 0, and a
 * dead letter records the seq. A copy is made on this rare path only;
 * without memory for it the dead letter gets the event as it is.
 */
static const weir_event *
relay_stored(const weir__slot *s)
{
	const weir_event *ev = s->ev;
	if (weir_event_seq(ev) == s->seq)
		return weir_event_hold(ev);
	weir_header     hdrs[WEIR_MAX_HEADERS];
	size_t          n    = weir_event_header_count(ev);
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	for (size_t i = 0; i < n && i < WEIR_MAX_HEADERS; i++) {
		weir_event_header(
		    ev, i, &hdrs[i].name, &hdrs[i].value, &hdrs[i].len);
		init.header_count++;
	}
	weir_event *copy;
	init.topic   = weir_event_topic(ev);
	init.key     = weir_event_key(ev, &init.key_len);
	init.payload = weir_event_payload(ev, &init.payload_len);
	init.headers = hdrs;
	init.id      = weir_event_id(ev);
	init.ts      = weir_event_ts(ev);
	init.seq     = s->seq;
	if (weir_event_new(&copy, &init) != WEIR_OK)
		return weir_event_hold(ev);
	return copy;
}

/* A finished event: dead-letter it (store mode) with @p why. */
static void
relay_dead(weir__route *rt, weir__slot *s, weir_err code, const char *why)
{
	if (!rt->direct) {
		const weir_event *ev = relay_stored(s);
		weir_store_dead_add(rt->br->store, ev, rt->name, code,
		    why != NULL ? why : weir_strerror(code), NULL);
		weir_event_release(ev);
	}
	atomic_fetch_add(&rt->dead, 1);
	relay_done(rt, s);
}

/* A retriable failure of @p s: back off, feed the breaker, re-send
 * later, or give up once the attempts are spent (and always in direct
 * mode, which never sends twice). */
static void
relay_retriable(weir__route *rt, weir__slot *s, weir_err code, const char *why,
    int64_t now)
{
	weir__breaker_failure(&rt->brk, now);
	atomic_store(&rt->opens, rt->brk.opens);
	uint64_t delay    = weir__backoff_ms(rt->br->retry_initial_ms,
	       rt->br->retry_max_ms, rt->brk.failures, &rt->rng);
	rt->backoff_until = now + (int64_t) delay;
	if (rt->direct ||
	    (rt->max_attempts > 0 && s->attempts >= rt->max_attempts)) {
		char text[400];
		snprintf(text, sizeof text, "%s after %u attempts: %s",
		    rt->direct ? "dropped (direct mode)" : "retries exhausted",
		    s->attempts, why != NULL ? why : weir_strerror(code));
		relay_dead(rt, s, code, text);
		return;
	}
	s->state = WEIR__SLOT_WAIT;
	s->token = 0;
	if (!s->serial) {
		s->serial = 1;
		rt->serials++;
	}
}

static weir__slot *
relay_find(weir__route *rt, uint64_t token)
{
	size_t pos = (size_t) (token & RELAY_TOKEN_POS);
	if (pos >= rt->window)
		return NULL;
	weir__slot *s = &rt->slots[pos];
	if (s->state == WEIR__SLOT_FLIGHT && s->token == token)
		return s;
	return NULL; /* stale: a send we gave up waiting for */
}

static void
relay_outcome(weir__route *rt, const weir__ack *a, int64_t now)
{
	weir__slot *s = relay_find(rt, a->token);
	if (s == NULL)
		return;
	rt->flying--;
	if (a->result == WEIR_OK) {
		relay_done(rt, s);
		atomic_fetch_add(&rt->acked, 1);
		weir__breaker_success(&rt->brk);
	} else if (a->retriable) {
		relay_retriable(rt, s, a->result, a->reason, now);
	} else {
		weir__breaker_success(&rt->brk); /* the broker answered */
		relay_dead(rt, s, a->result, a->reason);
	}
}

/*
 * Fails the messages in flight for longer than ack_timeout_ms. The look
 * walks the whole window, and a pass runs per batch of acknowledgements,
 * so it is taken at most every 100 ms (or ack_timeout_ms, if shorter):
 * a timeout is seen up to that much late, and a window of thousands is
 * not walked thousands of times a second.
 */
static void
relay_lost(weir__route *rt, int64_t now)
{
	int64_t timeout = (int64_t) rt->br->ack_timeout_ms;
	if (rt->flying == 0 ||
	    now - rt->lost_ms < (timeout < 100 ? timeout : 100))
		return;
	rt->lost_ms = now;
	for (size_t i = 0; i < rt->count; i++) {
		weir__slot *s = relay_at(rt, i);
		if (s->state == WEIR__SLOT_FLIGHT &&
		    now - s->sent_ms >= timeout) {
			rt->flying--;
			relay_retriable(rt, s, WEIR_ETIMEDOUT,
			    "no acknowledgement in time", now);
		}
	}
}

/* Takes the queued acknowledgements and applies them. */
static void
relay_acks(weir__route *rt, int64_t now)
{
	pthread_mutex_lock(&rt->lock);
	weir__ack *acks = rt->acks;
	size_t     n    = rt->nacks;
	rt->acks        = NULL;
	rt->nacks = rt->cap_acks = 0;
	pthread_mutex_unlock(&rt->lock);
	for (size_t i = 0; i < n; i++) {
		relay_outcome(rt, &acks[i], now);
		weir__free(acks[i].reason);
	}
	weir__free(acks);
	relay_lost(rt, now);
}

/* A queued cursor write committed (writer thread). Writes queued one
 * after another commit in that order, and a later write (queued or
 * waited for) never finishes before this callback has run, so the
 * figure never moves back. */
static void
relay_cursor_written(weir_store *st, weir_err err, uint64_t seq, void *arg)
{
	(void) st;
	weir__route *rt = arg;
	if (err == WEIR_OK)
		atomic_store(&rt->cursor, seq);
	pthread_mutex_lock(&rt->lock);
	rt->cursor_queued = 0;
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

/* Queues the due cursor write; 0 while the last one is still queued
 * (the due value then waits for a later pass). A write the store
 * refuses at once is dropped, as a failed one is: the next move makes
 * a new one. */
static int
relay_cursor_queue(weir__route *rt)
{
	pthread_mutex_lock(&rt->lock);
	int busy          = rt->cursor_queued;
	rt->cursor_queued = 1;
	pthread_mutex_unlock(&rt->lock);
	if (busy)
		return 0;
	if (weir__store_cursor_set_async(rt->br->store, rt->cursor_name,
	        rt->cursor_due, relay_cursor_written, rt) != WEIR_OK) {
		pthread_mutex_lock(&rt->lock);
		rt->cursor_queued = 0;
		pthread_mutex_unlock(&rt->lock);
	}
	return 1;
}

/*
 * Writes the cursor when a move is due and either @p force (the route
 * has nothing else to do) or RELAY_CURSOR_MS have passed since the last
 * write. Each write is a store transaction (an fsync with FULL
 * durability, queued behind the intake's appends): writing on every
 * pass held a route to a few hundred passes a second, so a cursor that
 * lags by at most that interval only means more re-sends after a
 * crash, which the brokers' idempotency absorbs. While the route is
 * busy the write is queued and not waited for: waiting held the relay
 * (no acks taken, nothing sent) for up to two of the writer's commits
 * every interval. A forced write is waited for, so the cursor is
 * written before the backlog drops.
 */
static void
relay_cursor(weir__route *rt, int64_t now, int force)
{
	if (rt->cursor_due == 0 ||
	    (!force && now - rt->cursor_ms < RELAY_CURSOR_MS))
		return;
	if (!force) {
		if (!relay_cursor_queue(rt))
			return;
	} else if (weir_store_cursor_set(rt->br->store, rt->cursor_name,
	               rt->cursor_due) == WEIR_OK) {
		atomic_store(&rt->cursor, rt->cursor_due);
	}
	rt->cursor_due = 0;
	rt->cursor_ms  = now;
}

/* Waits until no cursor write of the route is queued: its callback
 * uses the route. */
static void
relay_cursor_settle(weir__route *rt)
{
	pthread_mutex_lock(&rt->lock);
	while (rt->cursor_queued)
		pthread_cond_wait(&rt->cond, &rt->lock);
	pthread_mutex_unlock(&rt->lock);
}

/* Pops the finished run at the head and moves the cursor past it: at
 * once when that leaves the route idle (its backlog empty), and before
 * the backlog drops, so a reader who sees backlog 0 sees the cursor. */
static void
relay_advance(weir__route *rt, int64_t now)
{
	uint64_t last = 0;
	size_t   n    = 0;
	while (rt->count > 0 && relay_at(rt, 0)->state == WEIR__SLOT_DONE) {
		last = relay_at(rt, 0)->seq;
		relay_slot_clear(relay_at(rt, 0));
		rt->head = (rt->head + 1) % rt->window;
		rt->count--;
		n++;
	}
	rt->fresh = rt->fresh > n ? rt->fresh - n : 0;
	if (n > 0) {
		atomic_store(&rt->oldest_ts,
		    rt->count > 0 ? weir_event_ts(relay_at(rt, 0)->ev) : 0);
		if (!rt->direct)
			rt->cursor_due = last;
	}
	relay_cursor(rt, now, atomic_load(&rt->backlog) == (int64_t) n);
	if (n > 0)
		atomic_fetch_sub(&rt->backlog, (int64_t) n);
}

/*
 * Called for each unfinished slot in seq order during a send pass:
 * the entry of @p s's key, made (block 0) when this is the key's first
 * unfinished slot; NULL without a key. The set lives for one pass (its
 * generation), so a pass costs O(window), not O(window^2) key
 * comparisons as a scan of the earlier slots did.
 */
static weir__keyent *
relay_key(weir__route *rt, const weir__slot *s)
{
	if (s->key == NULL)
		return NULL;
	size_t i = (size_t) s->key_hash & rt->keys_mask;
	for (;; i = (i + 1) & rt->keys_mask) {
		weir__keyent *e = &rt->keys[i];
		if (e->gen != rt->keys_gen) {
			e->slot  = s;
			e->gen   = rt->keys_gen;
			e->block = 0;
			return e;
		}
		if (e->slot->key_hash == s->key_hash &&
		    e->slot->key_len == s->key_len &&
		    memcmp(e->slot->key, s->key, s->key_len) == 0)
			return e;
	}
}

/* 1 when @p s, in flight, holds back the later slots of its key: it
 * failed before, or the sink does not keep order. (One with another
 * destination is held back too: relay_same_dest.) Only relay_send_keyed
 * calls it, for a slot it did not skip: one in flight, as a slot it
 * tries to send either goes (in flight) or ends the pass. */
static int
relay_blocks(const weir__route *rt, const weir__slot *s)
{
	return !rt->ordered || s->serial;
}

/* Sends one slot; returns 0 to stop sending for now. */
static int
relay_send(weir__route *rt, weir__slot *s, int64_t now)
{
	weir__backend  *be  = rt->be;
	weir_bridge_msg msg = { .size = sizeof msg,
		.ev                   = s->ev,
		.seq                  = rt->direct ? 0 : s->seq,
		.dest                 = s->dest->text,
		.key                  = s->key,
		.key_len              = s->key_len,
		.source               = rt->br->source,
		.token                = ((uint64_t) (rt->index + 1) << 48) |
		    ((++rt->next_token & RELAY_TOKEN_COUNTER) << 16) |
		    (uint64_t) (s - rt->slots) };
	weir_err        e   = be->ops->publish(be->state, &msg);
	if (e == WEIR_EAGAIN)
		return 0;
	if (e == WEIR_OK) {
		if (s->attempts > 0)
			atomic_fetch_add(&rt->retried, 1);
		s->attempts++;
		rt->flying++;
		s->state   = WEIR__SLOT_FLIGHT;
		s->token   = msg.token;
		s->sent_ms = now;
		atomic_fetch_add(&rt->sent, 1);
		weir__breaker_sent(&rt->brk);
		return 1;
	}
	s->attempts++;
	const char *why = be->ops->errmsg ? be->ops->errmsg(be->state) : NULL;
	if (e == WEIR_EINVAL || e == WEIR_ETOOBIG || e == WEIR_EBADTOPIC ||
	    e == WEIR_ENOTSUP)
		relay_dead(rt, s, e, why);
	else
		relay_retriable(rt, s, e, why, now);
	return 0;
}

/* 1 when @p a and @p b go to one destination: a sink keeps order per
 * destination (Kafka: per partition of a topic), so messages of one key
 * to two destinations are never in flight together. */
static int
relay_same_dest(const weir__slot *a, const weir__slot *b)
{
	return a->dest == b->dest || strcmp(a->dest->text, b->dest->text) == 0;
}

/* The pass in order, checking keys: a slot goes when no earlier slot of
 * its key holds it back (relay_blocks, relay_same_dest). */
static void
relay_send_keyed(weir__route *rt, uint32_t allow, int64_t now)
{
	rt->keys_gen++;
	for (size_t i = 0; i < rt->count && allow > 0; i++) {
		weir__slot *s = relay_at(rt, i);
		if (s->state == WEIR__SLOT_DONE)
			continue;
		weir__keyent *e = relay_key(rt, s);
		if (e != NULL && e->slot != s) {
			if (e->block || !relay_same_dest(e->slot, s)) {
				e->block = 1;
				continue;
			}
			e->slot = s; /* the key's latest, for the next check */
		}
		if (s->state == WEIR__SLOT_WAIT) {
			if (!relay_send(rt, s, now))
				break;
			allow--;
		}
		if (e != NULL)
			e->block = relay_blocks(rt, s);
	}
	rt->fresh = 0; /* found again by the next ordered pass */
}

/* The pass of an ordered sink with nothing failed, on a route with one
 * destination: every slot before `fresh` is in flight or done and holds
 * nothing back, so the pass sends from there on, without a key check. */
static void
relay_send_fresh(weir__route *rt, uint32_t allow, int64_t now)
{
	size_t i = rt->fresh;
	for (; i < rt->count && allow > 0; i++) {
		weir__slot *s = relay_at(rt, i);
		if (s->state != WEIR__SLOT_WAIT)
			continue;
		if (!relay_send(rt, s, now))
			break;
		allow--;
	}
	rt->fresh = i;
}

static void
relay_send_all(weir__route *rt, int64_t now)
{
	if (now < rt->backoff_until)
		return;
	uint32_t allow = weir__breaker_allow(&rt->brk, now);
	if (rt->ordered && rt->one_dest && rt->serials == 0)
		relay_send_fresh(rt, allow, now);
	else
		relay_send_keyed(rt, allow, now);
	atomic_store(&rt->breaker, (int) rt->brk.state);
}

/*
 * Waits for an ack, new events or stop, at most poll_ms. With messages
 * in flight the wait starts inside the backend's poll: a backend that
 * makes its acks there (kafka: delivery reports are served only by
 * rd_kafka_poll) returns as soon as one is ready, instead of at the
 * next pass poll_ms later, which capped a route at a window per
 * poll_ms. A backend whose poll returns at once (mem) or that acks
 * from its own threads (nats) leaves the rest of the wait to the
 * condition variable, so the wait never exceeds poll_ms.
 */
static int
relay_wait(weir__route *rt)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long) rt->br->poll_ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	if (rt->flying > 0)
		rt->be->ops->poll(rt->be->state, (int) rt->br->poll_ms);
	pthread_mutex_lock(&rt->lock);
	while (!rt->wake && !rt->stopping)
		if (pthread_cond_timedwait(&rt->cond, &rt->lock, &ts) != 0)
			break;
	rt->wake     = 0;
	int stopping = rt->stopping;
	pthread_mutex_unlock(&rt->lock);
	return !stopping;
}

static void *
relay_main(void *arg)
{
	weir__route *rt = arg;
	do {
		int64_t now = weir__bridge_now_ms();
		relay_acks(rt, now);
		relay_advance(rt, now);
		weir__intake_resume(rt);
		relay_fill(rt, now);
		relay_send_all(rt, now);
		rt->be->ops->poll(rt->be->state, 0);
	} while (relay_wait(rt));
	return NULL;
}

static weir_err
relay_count_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	(*(int64_t *) arg)++;
	return WEIR_OK;
}

/* Reads (or creates, at the log's end) the route's cursor and counts
 * the route's events after it. */
static weir_err
relay_position(weir__route *rt)
{
	weir_store *st = rt->br->store;
	uint64_t    cur, last;
	weir_err    e = weir_store_last_seq(st, &last);
	if (e == WEIR_OK &&
	    (e = weir_store_cursor_get(st, rt->cursor_name, &cur)) ==
	        WEIR_ENOENT) {
		cur = last;
		e   = weir_store_cursor_set(st, rt->cursor_name, cur);
	}
	if (e != WEIR_OK)
		return weir__bridge_fail(rt->br, e,
		    "route '%s': cursor '%s': %s", rt->name, rt->cursor_name,
		    weir_strerror(e));
	int64_t           n = 0;
	weir_store_filter f = WEIR_STRUCT_INIT(weir_store_filter);
	f.from_seq          = cur + 1;
	f.pattern           = rt->pattern;
	if ((e = weir_store_read(st, &f, relay_count_fn, &n)) != WEIR_OK)
		return weir__bridge_fail(rt->br, e, "route '%s': reading: %s",
		    rt->name, weir_strerror(e));
	atomic_store(&rt->cursor, cur);
	atomic_store(&rt->backlog, n);
	rt->cursor_due = 0;
	rt->next_seq   = cur + 1;
	rt->appended   = last;
	return WEIR_OK;
}

weir_err
weir__relay_start(weir__route *rt)
{
	if (!rt->direct) {
		weir_err e = relay_position(rt);
		if (e != WEIR_OK)
			return e;
	}
	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->nacks; i++) /* from before a stop */
		weir__free(rt->acks[i].reason);
	rt->nacks    = 0;
	rt->stopping = 0;
	pthread_mutex_unlock(&rt->lock);
	if (rt->keys == NULL) {
		size_t n = 2;
		while (n < 2 * (size_t) rt->window)
			n *= 2;
		if ((rt->keys = weir__zalloc(n * sizeof *rt->keys)) == NULL)
			return weir__bridge_fail(rt->br, WEIR_ENOMEM,
			    "route '%s': no memory", rt->name);
		rt->keys_mask = n - 1;
		rt->keys_gen  = 0;
	}
	const weir_backend_ops *ops = rt->be->ops;
	rt->ordered = ops->version >= WEIR_BACKEND_V2 && ops->caps != NULL &&
	    (ops->caps(rt->be->state) & WEIR_BACKEND_CAP_ORDERED) != 0;
	rt->one_dest = 1; /* a template without tokens */
	for (size_t i = 0; i < rt->dest.count; i++)
		rt->one_dest &= rt->dest.parts[i].text != NULL;
	rt->flying = rt->serials = rt->fresh = 0;
	rt->lost_ms                          = 0;
	rt->brk.state                        = WEIR_BRIDGE_BREAKER_CLOSED;
	rt->brk.failures                     = 0;
	rt->backoff_until                    = 0;
	if (pthread_create(&rt->thread, NULL, relay_main, rt) != 0)
		return weir__bridge_fail(
		    rt->br, WEIR_ENOMEM, "route '%s': no thread", rt->name);
	rt->running = 1;
	return WEIR_OK;
}

void
weir__relay_stop(weir__route *rt)
{
	if (!rt->running)
		return;
	pthread_mutex_lock(&rt->lock);
	rt->stopping = 1;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
	pthread_join(rt->thread, NULL);
	rt->running = 0;
	relay_cursor(rt, weir__bridge_now_ms(), 1);
	relay_cursor_settle(rt);
	/* What is in the window stays in the store (after the cursor) and
	 * goes out after the next start; direct mode's is gone. */
	int64_t gone = (int64_t) rt->count;
	while (rt->count > 0) {
		relay_slot_clear(relay_at(rt, 0));
		rt->head = (rt->head + 1) % rt->window;
		rt->count--;
	}
	if (rt->direct) {
		size_t cap = rt->br->direct_capacity;
		for (; rt->ring_count > 0; rt->ring_count--, gone++) {
			weir_event_release(rt->ring[rt->ring_head]);
			rt->ring_head = (rt->ring_head + 1) % cap;
		}
		atomic_fetch_add(&rt->dead, (uint64_t) gone);
		atomic_fetch_sub(&rt->backlog, gone);
	}
	relay_dest_drop(rt->dest_last);
	rt->dest_last = NULL;
	/* Stopped after the store's flush: no commit adds to the handoff
	 * now, and a start reads what it held from the store. */
	pthread_mutex_lock(&rt->lock);
	weir__handoff_clear(&rt->handoff);
	pthread_mutex_unlock(&rt->lock);
	atomic_store(&rt->oldest_ts, 0);
}
