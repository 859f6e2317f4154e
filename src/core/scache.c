// Design notes. Emit and publish by string look their topic up in a
// cache of this thread's (WEIR__SCACHE_SLOTS entries, direct-mapped by a
// hash of the string): an entry holds the topic, the registry generation
// it was filled at (drawn from one counter for all buses, so it names the
// bus too: weir__scache_gen_next), the (fn, arg) pairs of the matching
// listeners in call order and the matching subscriptions. A hit whose
// generation is the bus's current one is used as it is: no lock, no
// reference count, no allocation.
//
// The entries hold no references. What keeps their pointers valid is an
// epoch scheme: a thread announces itself (its record's `epoch`, the
// global epoch it entered at, and `bus`) before it reads bus->gen, and
// clears `epoch` when it leaves its outermost section. A removal (off,
// unsubscribe, a once-listener's call) unregisters under the bus lock,
// bumps bus->gen, then bumps the global epoch and scans the records
// (weir__scache_retire): a record inside a section entered before the
// bump, on this bus, may still use the removed item, so the item's last
// tree reference waits in a limbo list; otherwise it goes at once. All
// of these are seq_cst, so for any reader either the scan sees its
// announcement or the reader sees the new generation and refills.
// Whoever leaves the last section that held an item back frees it, on
// its own thread; a remover looks again after parking an item, in case
// that reader left before the item was parked. So arg_free runs when no emit
// may still call the listener: at once, or when the last such emit ends, on
// its thread, as weir_off() documents; an emit that starts after weir_off()
// returned never calls it (new generation); and no entry keeps anything alive.
// A nested section on another bus marks the record "any bus" (NULL).
//
// The reader's announcement must be ordered before its load of bus->gen
// (a store then a load: only a full fence does that, an xchg on x86,
// ~6 ns, as much as the rest of a cached emit). Where the system has an
// asymmetric fence (Linux membarrier, scache_fence_linux.c) the reader
// stores plainly and the remover, rare, pays the fence for every thread
// at once before it scans; elsewhere, and under TSan, which does not
// model it, the reader's store is seq_cst (scache_fence_none.c).
//
// The cache and the records use libc's allocator, not the hook: they
// live as long as their thread, across any weir_set_allocator().
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/scache.h"
#include "core/scache_fence.h"

typedef struct scache_limbo {
	struct scache_limbo *next;
	weir_bus            *bus; // compared, never dereferenced
	uint64_t             epoch;
	void (*release)(void *);
	void *item;
} scache_limbo;

static _Atomic(weir__scache_rec *) scache_recs;
static atomic_uint_least64_t       scache_gens;
static pthread_mutex_t             scache_mx = PTHREAD_MUTEX_INITIALIZER;
static scache_limbo               *scache_limbo_head; // scache_mx
static pthread_once_t              scache_once = PTHREAD_ONCE_INIT;
static pthread_key_t               scache_key;
weir__scache_shared                weir__scache_sh = { .epoch = 1 };

_Thread_local weir__scache_tls *weir__scache_me WEIR__SCACHE_TLS_MODEL;

uint64_t
weir__scache_gen_next(void)
{
	return atomic_fetch_add(&scache_gens, 1) + 1;
}

size_t
weir__scache_limbo_count(void)
{
	return atomic_load(&weir__scache_sh.limbo_n);
}

size_t
weir__scache_footprint(void)
{
	return weir__scache_me != NULL ? sizeof(weir__scache_tls) : 0;
}

// Thread exit: the record goes back to the pool, the entries with it.
static void
scache_thread_end(void *arg)
{
	weir__scache_tls *me = arg;
	atomic_store(&me->rec->epoch, 0);
	atomic_store(&me->rec->used, 0);
	weir__scache_me = NULL;
	free(me);
}

static void
scache_init_once(void)
{
	(void) pthread_key_create(&scache_key, scache_thread_end);
	weir__scache_sh.asym = weir__fence_heavy_init();
}

// A record no live thread owns, or a new one (records are never freed:
// a scan may be reading them).
static weir__scache_rec *
scache_rec_get(void)
{
	for (weir__scache_rec *r = atomic_load(&scache_recs); r; r = r->next) {
		int free_rec = 0;
		if (atomic_compare_exchange_strong(&r->used, &free_rec, 1)) {
			return r;
		}
	}
	weir__scache_rec *r = aligned_alloc(64, sizeof(*r));
	if (r == NULL) {
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	atomic_init(&r->used, 1);
	pthread_mutex_lock(&scache_mx);
	r->next = atomic_load(&scache_recs);
	atomic_store(&scache_recs, r);
	pthread_mutex_unlock(&scache_mx);
	return r;
}

weir__scache_tls *
weir__scache_tls_make(void)
{
	pthread_once(&scache_once, scache_init_once);
	weir__scache_tls *me = calloc(1, sizeof(*me));
	if (me == NULL) {
		return NULL;
	}
	if ((me->rec = scache_rec_get()) == NULL ||
	    pthread_setspecific(scache_key, me) != 0) {
		if (me->rec != NULL) {
			atomic_store(&me->rec->used, 0);
		}
		free(me);
		return NULL;
	}
	for (size_t i = 0; i < WEIR__SCACHE_SLOTS; i++) {
		me->byptr[i] = &me->e[i]; // gen 0: never a hit
	}
	weir__event_on_stack(&me->ev, "", 0, NULL, 0);
	weir__scache_me = me;
	return me;
}

// Word-at-a-time hash of the topic: a byte loop of FNV cost more than
// the rest of a cached emit. Also returns the length.
static inline uint64_t
scache_hash(const char *topic, size_t *len)
{
	size_t   n = strlen(topic), i = 0;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, topic + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	for (w = 0; i < n; i++) { // the tail; memcpy of n - i was a call
		w = w << 8 | (uint8_t) topic[i];
	}
	h    = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	*len = n;
	return h ^ (h >> 32);
}

// Is an item removed from @p bus at @p epoch possibly still in use?
static int
scache_busy(weir_bus *bus, uint64_t epoch)
{
	for (weir__scache_rec *r = atomic_load(&scache_recs); r; r = r->next) {
		uint64_t e = atomic_load(&r->epoch);
		if (e != 0 && e < epoch) {
			weir_bus *b = atomic_load(&r->bus);
			if (b == NULL || b == bus) {
				return 1;
			}
		}
	}
	return 0;
}

void
weir__scache_retire(weir_bus *bus, void (*release)(void *), void *item)
{
	// weir__scache_sh.asym is settled before any reader announces (once).
	pthread_once(&scache_once, scache_init_once);
	uint64_t epoch = atomic_fetch_add(&weir__scache_sh.epoch, 1) + 1;
	if (weir__scache_sh.asym) {
		weir__fence_heavy(); // see scache_announce()
	}
	if (!scache_busy(bus, epoch)) {
		release(item);
		return;
	}
	scache_limbo *lb = malloc(sizeof(*lb));
	if (lb == NULL) {
		// No memory to wait with: leak the reference rather than
		// free what a reader may still use.
		return;
	}
	*lb = (scache_limbo) { NULL, bus, epoch, release, item };
	pthread_mutex_lock(&scache_mx);
	lb->next          = scache_limbo_head;
	scache_limbo_head = lb;
	atomic_fetch_add(&weir__scache_sh.limbo_n, 1);
	pthread_mutex_unlock(&scache_mx);
	// The reader we waited for may have left before the count above
	// was up, and seen none: look again (weir__scache_leave()).
	if (weir__scache_sh.asym) {
		weir__fence_heavy();
	}
	weir__scache_reclaim();
}

// Frees the limbo items no section holds back any more (no lock held
// while their release runs: it may call arg_free, which may emit).
void
weir__scache_reclaim(void)
{
	scache_limbo *done = NULL;
	pthread_mutex_lock(&scache_mx);
	for (scache_limbo **pp = &scache_limbo_head; *pp != NULL;) {
		scache_limbo *lb = *pp;
		if (scache_busy(lb->bus, lb->epoch)) {
			pp = &lb->next;
			continue;
		}
		*pp      = lb->next;
		lb->next = done;
		done     = lb;
		atomic_fetch_sub(&weir__scache_sh.limbo_n, 1);
	}
	pthread_mutex_unlock(&scache_mx);
	while (done != NULL) {
		scache_limbo *lb = done;
		done             = lb->next;
		lb->release(lb->item);
		free(lb);
	}
}

static void
scache_subs_visit(void *item, void *arg)
{
	weir__scache_entry *e = arg;
	if (e->ns < WEIR__SCACHE_SUBS) {
		e->subs[e->ns++] = item;
	} else {
		e->ns = WEIR__SCACHE_NONE;
	}
}

// Copies the listeners of a snapshot into @p e: only plain ones (a
// once-listener needs its record at the call) and only a few.
static void
scache_fill_calls(weir__scache_entry *e, const weir__lsnap *ls)
{
	e->nl = WEIR__SCACHE_NONE;
	if (!ls->plain || ls->n > WEIR__SCACHE_CALLS) {
		return;
	}
	for (size_t i = 0; i < ls->n; i++) {
		e->calls[i] = ls->calls[i];
	}
	e->nl = (uint8_t) ls->n;
}

// Fills @p e for @p topic (validated) under the bus lock. Inside the
// caller's section: every pointer taken is registered at e->gen.
static weir_err
scache_fill(weir__scache_entry *e, weir_bus *bus, const char *topic,
    size_t len, uint64_t hash)
{
	_Alignas(max_align_t) char buf[sizeof(weir__lsnap) +
	    WEIR__SCACHE_CALLS *
	        (sizeof(weir__listener *) + sizeof(weir__lcall))];
	weir__lsnap               *ls;
	uint64_t                   gen = 0;
	e->gen                         = 0; // unusable until complete
	pthread_mutex_lock(&bus->lock);
	weir_err rv = weir__lsnap_take_in(bus, topic, buf, sizeof(buf), &ls);
	if (rv == WEIR_OK) {
		gen = atomic_load(&bus->gen);
		scache_fill_calls(e, ls);
		e->ns = 0;
		weir__tree_match(&bus->subs, topic, scache_subs_visit, e);
		weir__lsnap_drop(ls, buf); // the tree still holds each one
	}
	pthread_mutex_unlock(&bus->lock);
	if (rv != WEIR_OK) {
		return rv;
	}
	memcpy(e->topic, topic, len + 1);
	e->len  = (uint32_t) len;
	e->hash = hash;
	e->gen  = gen;
	return WEIR_OK;
}

static inline int
scache_hit(
    const weir__scache_entry *e, const char *topic, size_t len, uint64_t hash)
{
	return e->hash == hash && e->len == len &&
	    memcmp(e->topic, topic, len) == 0;
}

weir__scache_entry *
weir__scache_enter_slow(weir__scache_tls *me, weir__scache_entry **pp,
    weir_bus *bus, const char *topic, uint64_t gen)
{
	size_t              len;
	uint64_t            hash = scache_hash(topic, &len);
	weir__scache_entry *e    = &me->e[hash & (WEIR__SCACHE_SLOTS - 1)];
	// The generation names the bus (weir__scache_gen_next).
	if (e->gen == gen && scache_hit(e, topic, len, hash)) {
		*pp = e;
		return e;
	}
	// Only the outermost section fills: a nested emit or publish (from
	// a listener) must not rewrite an entry an outer one is walking.
	if (me->depth == 1 && len < WEIR__SCACHE_TOPIC &&
	    weir_topic_validate(topic) == WEIR_OK &&
	    scache_fill(e, bus, topic, len, hash) == WEIR_OK) {
		*pp = e;
		return e;
	}
	return NULL; // still inside: the caller leaves
}
