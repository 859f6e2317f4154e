// Design notes. A listener is held by the bus's tree (one reference)
// and by every snapshot that contains it, so one removed during an
// emit is still called by that emit, as in Node. Order is a number:
// appended listeners count up from 0, prepended ones down from -1, and
// a snapshot sorts by it, which gives registration order across
// patterns. A once-listener is unregistered just before its first call;
// its `fired` flag keeps concurrent or nested emits from calling it
// twice.
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/listener.h"

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

static void
listener_unlink_locked(weir_bus *bus, weir__listener *l)
{
	l->removed = 1;
	weir__tree_remove(&bus->listeners, l->pattern, l);
	weir__bus_changed(bus);
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
		weir__listener_release(l); // the tree's reference
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
	return l;
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
	pthread_mutex_lock(&bus->lock);
	weir_err rv = weir__tree_add(&bus->listeners, pattern, l);
	if (rv == WEIR_OK) {
		l->id    = ++bus->next_id;
		l->order = (flags & WEIR_ON_PREPEND) ? --bus->next_prepend
		                                     : bus->next_order++;
		weir__bus_changed(bus);
		if (id != NULL) {
			*id = l->id;
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (rv != WEIR_OK) {
		l->arg_free = NULL; // on error the caller keeps arg
		weir__listener_release(l);
	}
	return rv;
}

typedef struct listener_find {
	uint64_t        id;
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

weir_err
weir_off(weir_bus *bus, uint64_t id)
{
	if (bus == NULL) {
		return WEIR_EINVAL;
	}
	listener_find f = { id, NULL };
	pthread_mutex_lock(&bus->lock);
	weir__tree_each(&bus->listeners, listener_find_visit, &f);
	if (f.found != NULL) {
		listener_unlink_locked(bus, f.found);
	}
	pthread_mutex_unlock(&bus->lock);
	if (f.found == NULL) {
		return WEIR_ENOENT;
	}
	weir__listener_release(f.found);
	return WEIR_OK;
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
		weir__listener_release(ll.l[i]);
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
