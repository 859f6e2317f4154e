// Design notes. A section is a name and a function returning a JSON
// value. The list is short (one per module) and read only when stats are
// asked for, so a linked list under a mutex is enough. The function runs
// under the list's lock: weir_bus_remove_stats_section() then cannot
// return while the function is still running on another thread, and its
// arg can be freed right after.
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/jbuf.h"
#include "core/section.h"

struct weir__section {
	weir__section        *next;
	char                 *name;
	weir_stats_section_fn fn;
	void                 *arg;
};

void
weir__sections_init(weir__sections *ss)
{
	pthread_mutex_init(&ss->lock, NULL);
	ss->head = NULL;
}

void
weir__sections_fini(weir__sections *ss)
{
	while (ss->head != NULL) {
		weir__section *s = ss->head;
		ss->head         = s->next;
		weir__free(s->name);
		weir__free(s);
	}
	pthread_mutex_destroy(&ss->lock);
}

// Names are JSON keys beside "loops" and "subscriptions": [a-z0-9_]+.
static int
section_name_ok(const char *name)
{
	if (name[0] == '\0' || strcmp(name, "loops") == 0 ||
	    strcmp(name, "subscriptions") == 0) {
		return 0;
	}
	for (const char *p = name; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		        *p == '_')) {
			return 0;
		}
	}
	return 1;
}

static weir__section **
section_find(weir__sections *ss, const char *name)
{
	weir__section **pp = &ss->head;
	while (*pp != NULL && strcmp((*pp)->name, name) != 0) {
		pp = &(*pp)->next;
	}
	return pp;
}

weir_err
weir_bus_add_stats_section(
    weir_bus *bus, const char *name, weir_stats_section_fn fn, void *arg)
{
	if (bus == NULL || name == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	if (!section_name_ok(name)) {
		return WEIR_EBADNAME;
	}
	weir__section *s = weir__zalloc(sizeof(*s));
	char          *n = weir__strdup(name);
	if (s == NULL || n == NULL) {
		weir__free(s);
		weir__free(n);
		return WEIR_ENOMEM;
	}
	*s = (weir__section) { .name = n, .fn = fn, .arg = arg };
	pthread_mutex_lock(&bus->sections.lock);
	weir__section **pp = section_find(&bus->sections, name);
	weir_err        rv = *pp != NULL ? WEIR_EEXIST : WEIR_OK;
	if (rv == WEIR_OK) {
		*pp = s;
	}
	pthread_mutex_unlock(&bus->sections.lock);
	if (rv != WEIR_OK) {
		weir__free(n);
		weir__free(s);
	}
	return rv;
}

weir_err
weir_bus_remove_stats_section(weir_bus *bus, const char *name)
{
	if (bus == NULL || name == NULL) {
		return WEIR_EINVAL;
	}
	pthread_mutex_lock(&bus->sections.lock);
	weir__section **pp = section_find(&bus->sections, name);
	weir__section  *s  = *pp;
	if (s != NULL) {
		*pp = s->next;
	}
	pthread_mutex_unlock(&bus->sections.lock);
	if (s == NULL) {
		return WEIR_ENOENT;
	}
	weir__free(s->name);
	weir__free(s);
	return WEIR_OK;
}

void
weir__sections_json(weir_bus *bus, weir__sections *ss, weir__jbuf *b)
{
	pthread_mutex_lock(&ss->lock);
	for (weir__section *s = ss->head; s != NULL && !b->failed;
	     s                = s->next) {
		char *v = s->fn(bus, s->arg);
		if (v == NULL) { // its own allocation failed: the text fails
			weir__jbuf_fail(b);
			break;
		}
		weir__jbuf_add(b, ",\"%s\":%s", s->name, v); // name: checked
		weir__free(v);
	}
	pthread_mutex_unlock(&ss->lock);
}
