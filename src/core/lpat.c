// Design notes. Every registered listener points to the record of its
// exact pattern; the first listener in the pattern's tree node leads to
// it, so a join costs one walk of the pattern's tokens. Records form a
// list in the order they were made, which is Node's eventNames() order:
// a record goes with its pattern's last listener, so a pattern that
// gets listeners again moves to the end, and may warn again, as a Node
// event name does. Everything here is guarded by the bus lock; the
// warning hook runs after it is released, so it may call weir_on().
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/lpat.h"

weir__lpat *
weir__lpat_join(weir_bus *bus, const char *pattern)
{
	weir__listener *first = weir__tree_first(&bus->listeners, pattern);
	weir__lpat     *p     = first != NULL ? first->pat : NULL;
	if (p == NULL) {
		size_t len = strlen(pattern);
		if ((p = weir__zalloc(sizeof(*p) + len + 1)) == NULL) {
			return NULL;
		}
		memcpy(p->pattern, pattern, len + 1);
		p->len  = len;
		p->prev = bus->pat_tail;
		if (bus->pat_tail != NULL) {
			bus->pat_tail->next = p;
		} else {
			bus->pat_head = p;
		}
		bus->pat_tail = p;
	}
	p->count++;
	return p;
}

void
weir__lpat_leave(weir_bus *bus, weir__lpat *p)
{
	if (--p->count > 0) {
		return;
	}
	if (p->prev != NULL) {
		p->prev->next = p->next;
	} else {
		bus->pat_head = p->next;
	}
	if (p->next != NULL) {
		p->next->prev = p->prev;
	} else {
		bus->pat_tail = p->prev;
	}
	weir__free(p);
}

void
weir__lpat_check(weir_bus *bus, weir__lpat *p, weir__lwarn *w)
{
	w->count = 0;
	if (bus->max_listeners == 0 || p->count <= bus->max_listeners ||
	    p->warned) {
		return;
	}
	p->warned = 1; // decided under the lock: once, whatever the threads
	w->count  = p->count;
	w->max    = bus->max_listeners;
	w->fn     = bus->warn_fn;
	w->arg    = bus->warn_arg;
}

void
weir__lpat_warn(weir_bus *bus, const char *pattern, const weir__lwarn *w)
{
	if (w->fn != NULL) {
		w->fn(bus, pattern, w->count, w->arg);
		return;
	}
	fprintf(stderr,
	    "weir: MaxListenersExceededWarning: possible listener leak: "
	    "%zu listeners on pattern \"%s\" (max %zu); raise the limit "
	    "with weir_bus_set_max_listeners()\n",
	    w->count, pattern, w->max);
}

weir_err
weir_bus_set_max_listeners(weir_bus *bus, size_t max)
{
	if (bus == NULL) {
		return WEIR_EINVAL;
	}
	pthread_mutex_lock(&bus->lock);
	bus->max_listeners = max;
	pthread_mutex_unlock(&bus->lock);
	return WEIR_OK;
}

size_t
weir_bus_max_listeners(weir_bus *bus)
{
	if (bus == NULL) {
		return 0;
	}
	pthread_mutex_lock(&bus->lock);
	size_t max = bus->max_listeners;
	pthread_mutex_unlock(&bus->lock);
	return max;
}

weir_err
weir_bus_set_warning(weir_bus *bus, weir_warning_fn fn, void *arg)
{
	if (bus == NULL) {
		return WEIR_EINVAL;
	}
	pthread_mutex_lock(&bus->lock);
	bus->warn_fn  = fn;
	bus->warn_arg = arg;
	pthread_mutex_unlock(&bus->lock);
	return WEIR_OK;
}

// One block: the pointer array, its NULL, then the strings.
static char **
lpat_list_locked(weir_bus *bus, size_t *count)
{
	size_t n = 0, bytes = 0;
	for (weir__lpat *p = bus->pat_head; p != NULL; p = p->next) {
		n++;
		bytes += p->len + 1;
	}
	char **arr = weir__alloc((n + 1) * sizeof(char *) + bytes);
	if (arr == NULL) {
		return NULL;
	}
	char  *text = (char *) &arr[n + 1];
	size_t i    = 0;
	for (weir__lpat *p = bus->pat_head; p != NULL; p = p->next) {
		memcpy(text, p->pattern, p->len + 1);
		arr[i++] = text;
		text += p->len + 1;
	}
	arr[n] = NULL;
	*count = n;
	return arr;
}

weir_err
weir_listener_patterns(weir_bus *bus, char ***out, size_t *count)
{
	if (count != NULL) {
		*count = 0;
	}
	if (out != NULL) {
		*out = NULL;
	}
	if (out == NULL || bus == NULL) {
		return WEIR_EINVAL;
	}
	size_t n = 0;
	pthread_mutex_lock(&bus->lock);
	*out = lpat_list_locked(bus, &n);
	pthread_mutex_unlock(&bus->lock);
	if (*out == NULL) {
		return WEIR_ENOMEM;
	}
	if (count != NULL) {
		*count = n;
	}
	return WEIR_OK;
}
