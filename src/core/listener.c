// Design notes. A listener is held by the bus's tree (one reference)
// and by every snapshot that contains it, so one removed during an
// emit is still called by that emit, as in Node. Order is a number:
// appended listeners count up from 0, prepended ones down from -1, and
// a snapshot sorts by it, which gives registration order across
// patterns. A once-listener is unregistered just before its first call;
// its `fired` flag keeps concurrent or nested emits from calling it
// twice. Adding and removing a listener is told on the reserved topics
// WEIR_TOPIC_LISTENER_NEW (before the add) and _REMOVED (after the
// removal), always outside the bus lock so that their listeners may
// add and remove listeners; two counters of the listeners matching
// them let on and off skip those emits with one load.
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/event.h"
#include "core/listener.h"
#include "core/scache.h"

void
weir__listener_release(weir__listener *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) !=
	    1) {
		return;
	}
	if (l->arg_free != NULL) {
		l->arg_free(l->arg);
	}
	weir__free(l->pattern);
	weir__free(l);
}

// Reserved topics a listener's pattern matches (weir__listener.meta).
#define LISTENER_META_NEW 1u
#define LISTENER_META_REMOVED 2u

static unsigned
listener_meta(const char *pattern)
{
	unsigned meta = 0;
	if (weir_pattern_match(pattern, WEIR_TOPIC_LISTENER_NEW)) {
		meta |= LISTENER_META_NEW;
	}
	if (weir_pattern_match(pattern, WEIR_TOPIC_LISTENER_REMOVED)) {
		meta |= LISTENER_META_REMOVED;
	}
	return meta;
}

static void
listener_meta_count(weir_bus *bus, const weir__listener *l, int delta)
{
	if (l->meta & LISTENER_META_NEW) {
		atomic_fetch_add(&bus->meta_new, (size_t) delta);
	}
	if (l->meta & LISTENER_META_REMOVED) {
		atomic_fetch_add(&bus->meta_removed, (size_t) delta);
	}
}

// Emits a reserved topic with @p pattern as payload, unless nobody
// listens (one load: what on and off pay when nobody does). The payload
// bypasses the bus's max_payload: a pattern is at most WEIR_MAX_TOPIC.
static weir_err
listener_tell(weir_bus *bus, atomic_size_t *listening, const char *topic,
    const char *pattern)
{
	if (atomic_load_explicit(listening, memory_order_relaxed) == 0) {
		return WEIR_OK;
	}
	weir_event ev;
	weir__event_on_stack(
	    &ev, topic, strlen(topic), pattern, strlen(pattern));
	return weir_emit_event(bus, &ev, NULL);
}

// After a removal, with no lock held: a failing listener of the topic
// does not undo it (its error went to WEIR_TOPIC_ERROR if anyone
// listens there).
static void
listener_tell_removed(weir_bus *bus, const weir__listener *l)
{
	(void) listener_tell(
	    bus, &bus->meta_removed, WEIR_TOPIC_LISTENER_REMOVED, l->pattern);
}

static void
listener_unlink_locked(weir_bus *bus, weir__listener *l)
{
	l->removed = 1;
	weir__tree_remove(&bus->listeners, l->pattern, l);
	weir__lpat_leave(bus, l->pat);
	l->pat = NULL;
	listener_meta_count(bus, l, -1);
	weir__bus_changed(bus);
}

static void
listener_release_item(void *item)
{
	weir__listener_release(item);
}

// Drops the tree's reference of a removed listener: at once, or when
// the last cached emit that may still call it ends (scache.c).
static void
listener_retire(weir_bus *bus, weir__listener *l)
{
	weir__scache_retire(bus, listener_release_item, l);
}

void
weir__listener_unregister(weir_bus *bus, weir__listener *l)
{
	pthread_mutex_lock(&bus->lock);
	int was = l->removed;
	if (!was) {
		listener_unlink_locked(bus, l);
	}
	pthread_mutex_unlock(&bus->lock);
	if (!was) {
		listener_tell_removed(bus, l);
		listener_retire(bus, l); // the tree's reference
	}
}

static weir__listener *
listener_new(const char *pattern, weir_handler fn, void *arg,
    weir_free_fn arg_free, unsigned flags)
{
	weir__listener *l = weir__zalloc(sizeof(*l));
	if (l == NULL) {
		return NULL;
	}
	l->pattern = weir__strdup(pattern);
	if (l->pattern == NULL) {
		weir__free(l);
		return NULL;
	}
	atomic_init(&l->refs, 1);
	atomic_init(&l->fired, 0);
	l->fn       = fn;
	l->arg      = arg;
	l->arg_free = arg_free;
	l->flags    = flags;
	l->meta     = listener_meta(pattern);
	return l;
}

// Adds @p l to the registry (bus->lock held); fills @p w when the
// pattern now passes the listener limit for the first time.
static weir_err
listener_link_locked(weir_bus *bus, weir__listener *l, weir__lwarn *w)
{
	weir__lpat *pat = weir__lpat_join(bus, l->pattern);
	if (pat == NULL) {
		return WEIR_ENOMEM;
	}
	weir_err rv = weir__tree_add(&bus->listeners, l->pattern, l);
	if (rv != WEIR_OK) {
		weir__lpat_leave(bus, pat);
		return rv;
	}
	l->pat   = pat;
	l->id    = ++bus->next_id;
	l->order = (l->flags & WEIR_ON_PREPEND) ? --bus->next_prepend
	                                        : bus->next_order++;
	listener_meta_count(bus, l, 1);
	weir__lpat_check(bus, pat, w);
	if (w->count != 0) {
		atomic_fetch_add(&l->refs, 1); // keeps l->pattern for the hook
	}
	weir__bus_changed(bus);
	return WEIR_OK;
}

static weir_err
listener_add(weir_bus *bus, weir__listener *l, uint64_t *id)
{
	weir__lwarn w;
	pthread_mutex_lock(&bus->lock);
	weir_err rv = listener_link_locked(bus, l, &w);
	if (rv == WEIR_OK && id != NULL) {
		*id = l->id;
	}
	pthread_mutex_unlock(&bus->lock);
	if (rv == WEIR_OK && w.count != 0) {
		weir__lpat_warn(bus, l->pattern, &w);
		weir__listener_release(l);
	}
	return rv;
}

weir_err
weir_on(weir_bus *bus, const char *pattern, weir_handler fn, void *arg,
    weir_free_fn arg_free, unsigned flags, uint64_t *id)
{
	if (bus == NULL || fn == NULL ||
	    (flags & ~(WEIR_ON_ONCE | WEIR_ON_PREPEND))) {
		return WEIR_EINVAL;
	}
	if (weir_pattern_validate(pattern) != WEIR_OK) {
		return WEIR_EBADPATTERN;
	}
	weir__listener *l = listener_new(pattern, fn, arg, arg_free, flags);
	if (l == NULL) {
		return WEIR_ENOMEM;
	}
	// Node emits 'newListener' before adding, and a throw stops it.
	weir_err rv = listener_tell(
	    bus, &bus->meta_new, WEIR_TOPIC_LISTENER_NEW, pattern);
	if (rv == WEIR_OK) {
		rv = listener_add(bus, l, id);
	}
	if (rv != WEIR_OK) {
		l->arg_free = NULL; // on error the caller keeps arg
		weir__listener_release(l);
	}
	return rv;
}

typedef struct listener_find {
	uint64_t        id;
	weir_handler    fn;
	void           *arg;
	weir__listener *found;
} listener_find;

static void
listener_find_visit(void *item, void *arg)
{
	listener_find  *f = arg;
	weir__listener *l = item;
	if (l->id == f->id) {
		f->found = l;
	}
}

// Called with f->found set to NULL: keeps the match an emit calls last.
static void
listener_find_fn_visit(void *item, void *arg)
{
	listener_find  *f = arg;
	weir__listener *l = item;
	if (l->fn == f->fn && l->arg == f->arg &&
	    (f->found == NULL || l->order > f->found->order)) {
		f->found = l;
	}
}

// Removes what a find visit found, if anything (bus->lock not held).
static weir_err
listener_off_found(weir_bus *bus, const char *pattern, weir__tree_visit visit,
    listener_find *f)
{
	pthread_mutex_lock(&bus->lock);
	if (pattern != NULL) {
		weir__tree_exact(&bus->listeners, pattern, visit, f);
	} else {
		weir__tree_each(&bus->listeners, visit, f);
	}
	if (f->found != NULL) {
		listener_unlink_locked(bus, f->found);
	}
	pthread_mutex_unlock(&bus->lock);
	if (f->found == NULL) {
		return WEIR_ENOENT;
	}
	listener_tell_removed(bus, f->found);
	listener_retire(bus, f->found);
	return WEIR_OK;
}

weir_err
weir_off(weir_bus *bus, uint64_t id)
{
	if (bus == NULL) {
		return WEIR_EINVAL;
	}
	listener_find f = { .id = id };
	return listener_off_found(bus, NULL, listener_find_visit, &f);
}

weir_err
weir_off_fn(weir_bus *bus, const char *pattern, weir_handler fn, void *arg)
{
	if (bus == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	if (weir_pattern_validate(pattern) != WEIR_OK) {
		return WEIR_EBADPATTERN;
	}
	listener_find f = { .fn = fn, .arg = arg };
	return listener_off_found(bus, pattern, listener_find_fn_visit, &f);
}

// Listeners collected from the tree; a short list stays on the stack.
#define LISTENER_LOCAL 16

typedef struct listener_list {
	weir__listener  *local[LISTENER_LOCAL];
	weir__listener **l;
	size_t           n;
	size_t           cap;
	int              failed;
} listener_list;

static void
listener_list_init(listener_list *ll)
{
	ll->l      = ll->local;
	ll->n      = 0;
	ll->cap    = LISTENER_LOCAL;
	ll->failed = 0;
}

static void
listener_list_fini(listener_list *ll)
{
	if (ll->l != ll->local) {
		weir__free(ll->l);
	}
}

static void
listener_list_visit(void *item, void *arg)
{
	listener_list *ll = arg;
	if (ll->failed) {
		return;
	}
	if (ll->n == ll->cap) {
		size_t           ncap = ll->cap * 2;
		weir__listener **nl   = weir__alloc(ncap * sizeof(*nl));
		if (nl == NULL) {
			ll->failed = 1;
			return;
		}
		memcpy(nl, ll->l, ll->n * sizeof(*nl));
		listener_list_fini(ll);
		ll->l   = nl;
		ll->cap = ncap;
	}
	ll->l[ll->n++] = item;
}

weir_err
weir_off_all(weir_bus *bus, const char *pattern, size_t *removed)
{
	if (bus == NULL || (pattern && weir_pattern_validate(pattern))) {
		return bus ? WEIR_EBADPATTERN : WEIR_EINVAL;
	}
	listener_list ll;
	listener_list_init(&ll);
	pthread_mutex_lock(&bus->lock);
	if (pattern != NULL) {
		weir__tree_exact(
		    &bus->listeners, pattern, listener_list_visit, &ll);
	} else {
		weir__tree_each(&bus->listeners, listener_list_visit, &ll);
	}
	for (size_t i = 0; !ll.failed && i < ll.n; i++) {
		listener_unlink_locked(bus, ll.l[i]);
	}
	pthread_mutex_unlock(&bus->lock);
	for (size_t i = 0; !ll.failed && i < ll.n; i++) {
		listener_tell_removed(bus, ll.l[i]);
		listener_retire(bus, ll.l[i]);
	}
	listener_list_fini(&ll);
	if (removed != NULL) {
		*removed = ll.failed ? 0 : ll.n;
	}
	return ll.failed ? WEIR_ENOMEM : WEIR_OK;
}

static void
listener_count_visit(void *item, void *arg)
{
	(void) item;
	(*(size_t *) arg)++;
}

size_t
weir__listener_count_locked(weir_bus *bus, const char *topic)
{
	size_t n = 0;
	weir__tree_match(&bus->listeners, topic, listener_count_visit, &n);
	return n;
}

size_t
weir_listener_count(weir_bus *bus, const char *topic)
{
	if (bus == NULL || weir_topic_validate(topic) != WEIR_OK) {
		return 0;
	}
	pthread_mutex_lock(&bus->lock);
	size_t n = weir__listener_count_locked(bus, topic);
	pthread_mutex_unlock(&bus->lock);
	return n;
}

static void
lsnap_sort(weir__lsnap *s)
{
	// Insertion sort: snapshots are short and mostly in order already.
	for (size_t i = 1; i < s->n; i++) {
		weir__listener *l = s->l[i];
		size_t          j = i;
		while (j > 0 && s->l[j - 1]->order > l->order) {
			s->l[j] = s->l[j - 1];
			j--;
		}
		s->l[j] = l;
	}
}

weir_err
weir__lsnap_take_in(weir_bus *bus, const char *topic, void *buf,
    size_t bufsize, weir__lsnap **out)
{
	listener_list ll;
	listener_list_init(&ll);
	weir__tree_match(&bus->listeners, topic, listener_list_visit, &ll);
	size_t size = sizeof(weir__lsnap) +
	    ll.n * (sizeof(weir__listener *) + sizeof(weir__lcall));
	weir__lsnap *s = NULL;
	if (!ll.failed) {
		s = size <= bufsize ? buf : weir__alloc(size);
	}
	if (s == NULL) {
		listener_list_fini(&ll);
		return WEIR_ENOMEM;
	}
	s->next  = NULL;
	s->plain = 1;
	s->n     = ll.n;
	for (size_t i = 0; i < ll.n; i++) {
		s->l[i] = ll.l[i];
		if (ll.l[i]->flags & WEIR_ON_ONCE) {
			s->plain = 0;
		}
		atomic_fetch_add_explicit(
		    &ll.l[i]->refs, 1, memory_order_relaxed);
	}
	listener_list_fini(&ll);
	lsnap_sort(s);
	s->calls = (weir__lcall *) &s->l[ll.n];
	for (size_t i = 0; i < ll.n; i++) {
		s->calls[i] = (weir__lcall) { s->l[i]->fn, s->l[i]->arg };
	}
	*out = s;
	return WEIR_OK;
}

weir_err
weir__lsnap_take(weir_bus *bus, const char *topic, weir__lsnap **out)
{
	return weir__lsnap_take_in(bus, topic, NULL, 0, out);
}

void
weir__lsnap_drop(weir__lsnap *s, void *buf)
{
	for (size_t i = 0; i < s->n; i++) {
		weir__listener_release(s->l[i]);
	}
	if (s != buf) {
		weir__free(s);
	}
}

void
weir__lsnap_free(weir__lsnap *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		weir__listener_release(s->l[i]);
	}
	weir__free(s);
}
